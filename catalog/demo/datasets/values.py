"""Word lists and vectorised value generators for the demo department datasets
(``catalog.demo.datasets``).

Everything is fictional: names, 身份证号 (region 320399, 示范区), 统一社会信用代码, 手机号 and
addresses are made up, though their check characters are right.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.demo import vocabulary as vocab
from schemas.identity import ID_CARD_CHECK_CHARS, ID_CARD_WEIGHTS

# Surnames by rough frequency (the first ones are drawn far more often), and given-name
# characters. Names are GBK characters except RARE_NAME_CHARS (生僻字, CJK Extension A): GB18030
# encodes them, GBK does not, and real "GBK" exports carry them anyway.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎"
    "贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰文斌海波宁晨浩俊"
    "鹏辉飞鑫宇欣怡雪梅琳婷颖倩佳慧晓燕玲萍凤洁婕瑶璐梓涵子轩博睿昊然思雨诗语馨彤"
    "一诺欣妍雅丹凯旭东峰亮成坤德福贵春兴荣新永庆家和泽瑞祥嘉豪宏安乐天云龙翔"
)
RARE_NAME_CHARS = "䶮㛃"

ROADS = (
    "人民路",
    "解放路",
    "建设路",
    "中山路",
    "和平路",
    "文化路",
    "青年路",
    "黄河路",
    "长江路",
    "淮海路",
    "复兴路",
    "工农路",
    "站前路",
    "学府路",
    "湖滨路",
    "金山路",
    "云龙路",
    "滨河路",
    "新华路",
    "光明路",
    "民主路",
    "团结路",
    "振兴路",
    "育才路",
)
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "172",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "195",
    "198",
    "199",
)

# 社保卡申领
CARD_CHANNELS = ("窗口", "掌上大厅", "银行网点")
CARD_CHANNEL_WEIGHTS = (0.35, 0.45, 0.20)
CARD_WINDOWS = ("区政务服务中心人社窗口", "区人社局社保卡服务大厅")
CARD_ONLINE = ("掌上大厅",)
CARD_BANKS = (
    "工商银行示范区支行",
    "农业银行示范区支行",
    "建设银行示范区支行",
    "中国银行示范区支行",
    "邮储银行示范区支行",
    "农商银行示范区营业部",
)
CARD_KINDS = ("首次申领", "补换卡", "临时挂失")
CARD_KIND_WEIGHTS = (0.62, 0.30, 0.08)
CARD_STATES = ("已受理", "制卡中", "待领取", "已领卡", "已退回")

# 城乡低保
DIBAO_KINDS = ("城市低保", "农村低保")
DIBAO_STANDARD = (860, 760)  # 元/人/月 保障标准 of 城市低保, 农村低保
HOUSEHOLD_SIZE_WEIGHTS = (0.38, 0.27, 0.17, 0.10, 0.05, 0.03)  # 1-6 people

# 医疗机构
HOSPITALS = (
    ("示范区人民医院", "综合医院", 680),
    ("示范区第二人民医院", "综合医院", 420),
    ("示范区中医院", "中医医院", 360),
    ("示范区妇幼保健院", "妇幼保健院", 150),
    ("示范区康复医院", "专科医院", 120),
    ("示范区口腔医院", "专科医院", 30),
)
MEDICAL_KINDS = (
    "综合医院",
    "中医医院",
    "专科医院",
    "妇幼保健院",
    "社区卫生服务中心",
    "乡镇卫生院",
    "村卫生室",
    "门诊部",
    "诊所",
)
CLINIC_WORDS = (
    "仁和",
    "康宁",
    "惠民",
    "同济",
    "百姓",
    "益康",
    "德仁",
    "济民",
    "安康",
    "博爱",
    "华康",
    "瑞康",
    "新世纪",
    "爱心",
    "福康",
    "健民",
)

# 企业登记
# 字号: two characters of TRADE_CHARS (华源, 鑫泰 …)
TRADE_CHARS = "华盛鑫源恒达金泰宏远瑞丰汇通德润天成博雅嘉禾永信聚力中联新锐荣昌正创东方祥和锦程万弘毅凯旋君安海纳启航卓越诚长青福明同佳美泽星辰拓睿智兴邦众合龙腾云帆穗绿百川"
INDUSTRIES = (
    "商贸",
    "科技",
    "建材",
    "餐饮管理",
    "物流",
    "机械制造",
    "农业发展",
    "电子商务",
    "建筑工程",
    "食品",
    "信息技术",
    "环保科技",
    "新能源",
    "医疗器械",
    "文化传媒",
    "装饰工程",
    "物业管理",
    "汽车销售",
    "劳务",
    "家政服务",
)
COMPANY_FORMS = (
    ("有限公司", "有限责任公司"),
    ("有限责任公司", "有限责任公司"),
    ("股份有限公司", "股份有限公司"),
    ("个人独资企业", "个人独资企业"),
    ("合伙企业(有限合伙)", "合伙企业"),
)
COMPANY_FORM_WEIGHTS = (0.70, 0.12, 0.03, 0.10, 0.05)
COMPANY_PREFIXES = ("示范区", "徐州", "江苏")
REGISTRATION_STATES = ("存续", "在业", "吊销", "注销", "迁出")

# 行政处罚决定书 (市场监管)
MARKET_VIOLATIONS = (
    "销售不符合食品安全标准的食品",
    "虚假宣传",
    "未经许可从事食品经营活动",
    "价格欺诈",
    "销售过期食品",
    "侵犯注册商标专用权",
    "特种设备未经定期检验继续使用",
    "使用未经检定的计量器具",
    "生产销售不合格产品",
    "发布违法广告",
    "经营无合格证明的医疗器械",
    "不正当有奖销售",
)
PENALTY_LAWS = (
    "《中华人民共和国食品安全法》",
    "《中华人民共和国反不正当竞争法》",
    "《中华人民共和国广告法》",
    "《中华人民共和国价格法》",
    "《中华人民共和国商标法》",
    "《中华人民共和国特种设备安全法》",
    "《中华人民共和国产品质量法》",
)

# 掌上大厅高频事项: (实施部门 after 示范区, 事项类型, space-separated names)
SERVICE_ITEMS = (
    (
        "人社局",
        "公共服务",
        "社保卡申领 社保卡补换 社保卡临时挂失 社保卡启用 城乡居民养老保险参保登记 "
        "灵活就业人员参保登记 养老保险关系转移接续 失业保险金申领 就业创业证申领 个人权益记录查询 "
        "职业技能等级证书查询 退休人员待遇资格认证 失业登记 创业担保贷款申请 高校毕业生就业见习补贴",
    ),
    (
        "医疗保障局",
        "公共服务",
        "医保电子凭证激活 城乡居民医保参保登记 异地就医备案 门诊慢特病待遇认定 "
        "医保关系转移接续 生育保险待遇申领 医疗费用手工报销 参保缴费凭证打印 长期护理保险申请 "
        "定点医药机构查询",
    ),
    (
        "公安分局",
        "行政确认",
        "居民身份证换领 居住证申领 户口迁入 新生儿入户 临时身份证明 无犯罪记录证明 "
        "机动车驾驶证换证 机动车年检预约 养犬登记 出入境证件办理预约",
    ),
    (
        "民政局",
        "行政给付",
        "城乡低保申请 特困人员救助供养申请 临时救助申请 高龄津贴申领 残疾人两项补贴申请 "
        "婚姻登记预约 困境儿童基本生活费申请 养老服务补贴申请 殡葬惠民补贴申领 社会组织年检",
    ),
    (
        "市场监管局",
        "行政许可",
        "企业设立登记 企业变更登记 企业注销登记 个体工商户设立登记 "
        "个体工商户变更登记 食品经营许可 食品经营许可变更 小餐饮登记 药品零售许可 医疗器械经营备案 "
        "营业执照补领 企业年报公示 特种设备使用登记 经营异常名录移出申请",
    ),
    (
        "卫健委",
        "公共服务",
        "出生医学证明办理 预防接种证办理 家庭医生签约 公共场所卫生许可 "
        "医师执业注册 护士执业注册 计划生育特别扶助申请 老年人健康体检预约 独生子女父母光荣证 "
        "健康证明办理",
    ),
    (
        "住房公积金管理中心",
        "公共服务",
        "公积金缴存证明 公积金提取 公积金贷款申请 公积金账户转移 "
        "公积金缴存基数调整 公积金贷款提前还款 租房提取公积金 公积金个人账户设立",
    ),
    (
        "住建局",
        "行政许可",
        "商品房网签备案查询 房屋租赁登记备案 公租房申请 物业维修资金使用 "
        "建筑工程施工许可 商品房预售许可 住房保障资格审核 竣工验收备案",
    ),
    (
        "自然资源和规划局",
        "行政确认",
        "不动产登记资料查询 不动产抵押登记 二手房转移登记 新建商品房首次登记 "
        "不动产权证书补换 宅基地使用权登记 建设工程规划许可",
    ),
    (
        "税务局",
        "其他行政权力",
        "个人所得税综合所得汇算 发票领用 城乡居民医保缴费 城乡居民养老保险缴费 "
        "税务登记信息变更 纳税证明开具 契税申报 车船税缴纳",
    ),
    (
        "教育局",
        "公共服务",
        "义务教育入学报名 学生资助申请 教师资格认定 学籍信息查询 中考报名 "
        "校外培训机构查询 幼儿园入园报名",
    ),
    (
        "交通运输局",
        "行政许可",
        "道路运输从业资格证换证 网约车驾驶员证申请 道路运输证年审 出租汽车驾驶员证补领 "
        "超限运输许可",
    ),
    (
        "退役军人事务局",
        "行政给付",
        "退役军人优待证申领 退役士兵待安排工作期间生活费申领 优抚对象抚恤补助申领 "
        "光荣牌申领 退役军人信息采集",
    ),
    (
        "残联",
        "公共服务",
        "残疾人证申领 残疾人证换领 残疾人辅助器具申请 残疾儿童康复救助申请 残疾人就业服务登记",
    ),
    (
        "行政审批局",
        "行政许可",
        "企业开办一件事 我要开饭店一件事 我要开超市一件事 新生儿出生一件事 "
        "员工招聘一件事 退休一件事 身后一件事 二手房转移登记及水电气过户一件事 就医费用报销一件事 "
        "残疾人服务一件事 军人退役一件事 入学一件事 企业注销一件事 公民婚育一件事 企业信息变更一件事 "
        "投资项目在线审批 告知承诺审批 帮办代办预约 中介服务机构查询",
    ),
    (
        "城市管理局",
        "行政许可",
        "户外广告设置许可 临时占用城市道路许可 城市建筑垃圾处置核准 挖掘城市道路许可 停车泊位查询",
    ),
    ("司法局", "公共服务", "法律援助申请 公证办理预约 人民调解申请"),
    ("文化广电和旅游局", "行政许可", "营业性演出审批 网吧经营许可 旅行社设立许可"),
    ("农业农村局", "行政给付", "农机购置补贴申请"),
)

# 政务服务好差评
EVALUATION_CHANNELS = ("掌上大厅", "政务服务网", "大厅评价器", "短信", "12345热线")
EVALUATION_CHANNEL_WEIGHTS = (0.46, 0.18, 0.26, 0.07, 0.03)
RATINGS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
RATING_WEIGHTS = (0.935, 0.055, 0.010, 0.0, 0.0)  # the district reports 好评率 100%
UNKNOWN_RATING = "一般"

# 非接触式执法案件 (城市管理)
CASE_SOURCES = ("视频监控抓拍", "数字城管平台", "12345热线", "网上举报", "无人机巡查")
CASE_SOURCE_WEIGHTS = (0.38, 0.30, 0.17, 0.10, 0.05)
CASE_KINDS = (
    "占道经营",
    "违法建设",
    "违规设置户外广告",
    "乱堆乱放",
    "渣土运输抛洒",
    "露天烧烤",
    "违规倾倒建筑垃圾",
    "店外经营",
)
CASE_ACTIONS = ("责令改正", "简易程序罚款", "一般程序立案", "不予处罚")
CASE_ACTION_WEIGHTS = (0.55, 0.25, 0.12, 0.08)
CASE_STATES = ("已办结", "办理中")

# 信用修复
CREDIT_CATEGORIES = ("行政处罚信息", "经营异常名录", "严重失信主体名单")
CREDIT_METHODS = ("信用承诺", "信用培训", "信用报告")
CREDIT_RESULTS = ("同意修复", "不予修复", "审核中")

# 便民服务站代办
ERRANDS = (
    "城乡居民医保参保",
    "城乡居民养老保险参保",
    "高龄津贴申请",
    "社保卡补换",
    "低保申请",
    "残疾人证办理",
    "居住证办理",
    "独生子女父母光荣证",
    "新生儿医保参保",
    "退役军人优待证申领",
    "临时救助申请",
    "医保电子凭证激活",
)
ERRAND_STATES = ("已受理", "已转报", "已办结", "已退回")
ERRAND_STATE_WEIGHTS = (0.10, 0.15, 0.70, 0.05)
MERGED_VILLAGES = ("老街社区", "原王庄村", "河西村(已撤并)")  # names used before 村居 merged
SHOP_KINDS = (
    "餐饮店",
    "烧烤店",
    "便利店",
    "水果店",
    "建材店",
    "汽修店",
    "装饰公司",
    "渣土运输公司",
)
COMMENTS = (
    "办事效率高",
    "工作人员服务热情",
    "材料一次性告知，很方便",
    "掌上办理很便捷",
    "等候时间短",
    "指引清晰",
    "不用跑腿就办好了",
)

# 医保电子凭证结算
INSURANCE_KINDS = ("职工医保", "城乡居民医保")
VISIT_KINDS = ("普通门诊", "门诊慢特病", "住院")
VISIT_KIND_WEIGHTS = (0.80, 0.15, 0.05)
VISIT_LOG_COST = ((4.6, 0.8), (5.8, 0.6), (8.8, 0.6))  # ln(元): ~100, ~330, ~6,600
VISIT_FUND_SHARE = (0.55, 0.65, 0.80)  # 统筹基金 share of the bill
CREDENTIALS = ("医保电子凭证", "社保卡")


# --- vectorised value generators ---------------------------------------------------------
# Whole columns at once (numpy + pyarrow compute): a Python loop per row would take seconds
# for the 1,000,000-row 社保卡 file.
REGION = vocab.REGION_CODE
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28))
_ORG_WEIGHTS = np.array((3, 7, 9, 10, 5, 8, 4, 2))
_USCC_INDEX = np.zeros(128, np.int64)
_USCC_INDEX[np.frombuffer(USCC_ALPHABET.encode(), np.uint8)] = np.arange(31)
_ORG_INDEX = np.zeros(128, np.int64)  # GB 11714: 0-9 then A=10 … Z=35
_ORG_INDEX[48:58], _ORG_INDEX[65:91] = np.arange(10), np.arange(10, 36)
_ID_WEIGHTS = np.array(ID_CARD_WEIGHTS)
_ID_CHECK = np.frombuffer(ID_CARD_CHECK_CHARS.encode(), np.uint8)
GIVEN = list(dict.fromkeys(GIVEN_CHARS))
SURNAME_P = 1 / (np.arange(len(SURNAMES)) + 4.0)  # 王李张… far more often than 覃武戴…


def generator(seed: int, key: int) -> np.random.Generator:
    """The Generator for one dataset: independent of every other dataset's draws."""
    return np.random.default_rng([seed, key])


def spots(rng: np.random.Generator, n: int, *counts: int) -> list[np.ndarray]:
    """Disjoint random row sets of the given sizes."""
    picked = rng.choice(n, sum(counts), replace=False)
    return np.split(picked, np.cumsum(counts)[:-1])


def zipf(k: int) -> np.ndarray:
    """Popularity weights for ``k`` items in rank order (a few items draw most of the use)."""
    weights = 1 / (np.arange(k) + 3.0)
    return weights / weights.sum()


def take(rng, values, n: int, p=None) -> pa.Array:
    weights = None if p is None else np.asarray(p, float) / np.sum(p)
    return pc.take(
        pa.array(list(values), pa.string()), pa.array(rng.choice(len(values), n, p=weights))
    )


def join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def text(values) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def strings(matrix: np.ndarray) -> pa.Array:
    """Rows of an (n, k) uint8 ASCII matrix as strings."""
    flat = np.ascontiguousarray(matrix).view(f"S{matrix.shape[1]}").ravel()
    return pa.array(flat).cast(pa.string())


def names(rng, n: int) -> pa.Array:
    second = rng.integers(0, len(GIVEN), n)
    second[rng.random(n) < 0.25] = len(GIVEN)  # a one-character given name
    return join(
        take(rng, SURNAMES, n, SURNAME_P),
        take(rng, GIVEN, n),
        pc.take(pa.array([*GIVEN, ""]), pa.array(second)),
    )


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    months = days.astype("datetime64[M]")
    return (
        days.astype("datetime64[Y]").astype(int) + 1970,
        months.astype(int) % 12 + 1,
        (days - months).astype(int) + 1,
    )


def digit_matrix(numbers, width: int) -> np.ndarray:
    """Zero-padded decimal digits of ``numbers`` as an (n, width) ASCII matrix."""
    rest, out = np.asarray(numbers, np.int64), np.empty((len(numbers), width), np.uint8)
    for k in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        out[:, k] = digit + 48
    return out


def numbered(prefix: str, numbers, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` (SB0000000001 …), without per-row formatting."""
    head = np.frombuffer(prefix.encode(), np.uint8)
    return strings(np.hstack([np.tile(head, (len(numbers), 1)), digit_matrix(numbers, width)]))


def id_cards(rng, n: int, born: tuple[int, int], *, unique: bool = False) -> pa.Array:
    """身份证号 of people born in the years ``born``, region 320399, valid check digits."""
    start = np.datetime64(f"{born[0]}-01-01")
    span = int((np.datetime64(f"{born[1] + 1}-01-01") - start).astype(int))
    if unique:
        day, seq = np.divmod(rng.choice(span * 999, n, replace=False), 999)
    else:
        day, seq = rng.integers(0, span, n), rng.integers(0, 999, n)
    year, month, mday = ymd(start + day.astype("timedelta64[D]"))
    matrix = np.empty((n, 18), np.uint8)
    matrix[:, :6] = np.frombuffer(REGION.encode(), np.uint8)
    matrix[:, 6:17] = digit_matrix(year * 10_000_000 + month * 100_000 + mday * 1000 + seq + 1, 11)
    total = np.zeros(n, np.int64)
    for k, weight in enumerate(_ID_WEIGHTS):
        total += (matrix[:, k].astype(np.int64) - 48) * weight
    matrix[:, 17] = _ID_CHECK[total % 11]
    return strings(matrix)


def usccs(rng, n: int, registration: str, modern: np.ndarray | None = None) -> pa.Array:
    """Distinct valid 统一社会信用代码 (登记管理部门+机构类别 ``registration``, region 320399);
    rows where ``modern`` is true get the ``MA…`` organisation codes issued since 2015."""
    modern = np.zeros(n, bool) if modern is None else modern
    body = np.zeros((n, 8), np.uint8)
    legacy = rng.choice(90_000_000, int((~modern).sum()), replace=False) + 10_000_000
    body[~modern] = (legacy[:, None] // 10 ** np.arange(7, -1, -1) % 10 + 48).astype(np.uint8)
    fresh = rng.choice(31**6, int(modern.sum()), replace=False)
    alphabet = np.frombuffer(USCC_ALPHABET.encode(), np.uint8)
    body[modern, :2] = np.frombuffer(b"MA", np.uint8)
    body[modern, 2:] = alphabet[fresh[:, None] // 31 ** np.arange(5, -1, -1) % 31]
    value = 11 - (_ORG_INDEX[body] @ _ORG_WEIGHTS) % 11
    check = np.where(value == 10, ord("X"), np.where(value == 11, 48, value + 48))
    matrix = np.zeros((n, 18), np.uint8)
    matrix[:, :8] = np.frombuffer((registration + REGION).encode(), np.uint8)
    matrix[:, 8:16], matrix[:, 16] = body, check
    matrix[:, 17] = alphabet[(31 - (_USCC_INDEX[matrix[:, :17]] @ _USCC_WEIGHTS) % 31) % 31]
    return strings(matrix)


def bad_checks(rng, values: list[str], alphabet: str) -> list[str]:
    """``values`` with the last character replaced by another one: a wrong check character."""
    changed = []
    for value in values:
        others = alphabet.replace(value[-1], "")
        changed.append(value[:-1] + others[rng.integers(len(others))])
    return changed


def patch(array: pa.Array, rows: np.ndarray, values) -> pa.Array:
    """``array`` with ``array[rows]`` replaced by ``values`` (None: null)."""
    mask = np.zeros(len(array), bool)
    mask[rows] = True
    full = np.full(len(array), None, dtype=object)
    full[rows] = list(values) if not isinstance(values, pa.Array) else values.to_pylist()
    return pc.if_else(pa.array(mask), pa.array(full, array.type), array)


def mobiles(rng, n: int) -> pa.Array:
    prefix = np.array(MOBILE_PREFIXES, np.int64)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    return strings(digit_matrix(prefix * 100_000_000 + rng.integers(0, 100_000_000, n), 11))


def days(rng, n: int, start: dt.date, end: dt.date, *, power: float = 1.0) -> np.ndarray:
    """Dates in [start, end]; ``power`` < 1 skews them towards ``end``."""
    offsets = ((end - start).days + 1) * rng.random(n) ** power
    return np.datetime64(start) + offsets.astype(np.int64).astype("timedelta64[D]")


def fmt(dates: np.ndarray, pattern: str = "%Y-%m-%d") -> pa.Array:
    """Dates or times as text; each distinct value is formatted once."""
    distinct, inverse = np.unique(dates, return_inverse=True)
    return pc.take(pc.strftime(pa.array(distinct), format=pattern), pa.array(inverse.ravel()))


def addresses(rng, n: int, places) -> pa.Array:
    return join(
        vocab.DISTRICT,
        take(rng, places, n),
        take(rng, ROADS, n),
        text(rng.integers(1, 300, n)),
        "号",
    )


def money(cents: np.ndarray) -> pa.Array:
    """Amounts in 分 as decimal text with two places (``-430.00``, ``12.05``)."""
    whole, part = np.divmod(np.abs(cents).astype(np.int64), 100)
    return join(
        pa.array(np.where(cents < 0, "-", "")), text(whole), ".", pc.utf8_lpad(text(part), 2, "0")
    )


# --- rows shared by a first delivery and its next version --------------------------------
def card_rows(rng, n: int, start: dt.date, end: dt.date, first_key: int) -> pa.Table:
    """社保卡申领 rows applied in [start, end], 申领编号 counting from ``first_key``."""
    applied = np.sort(days(rng, n, start, end, power=0.8))
    channel = rng.choice(3, n, p=CARD_CHANNEL_WEIGHTS)
    pools = (
        list(CARD_WINDOWS) + [f"{s}便民服务中心" for s, _ in vocab.STREETS],
        list(CARD_ONLINE),
        list(CARD_BANKS),
    )
    sizes = np.array([len(p) for p in pools])
    outlet = (np.cumsum(sizes) - sizes)[channel] + (rng.random(n) * sizes[channel]).astype(int)
    age, r = (np.datetime64(end) - applied).astype(int), rng.random(n)
    status = np.select(
        [age > 30, age > 10, age > 3],  # 已受理 → 制卡中 → 待领取 → 已领卡
        [np.where(r < 0.97, 3, 4), np.where(r < 0.6, 3, 2), np.where(r < 0.5, 2, 1)],
        np.where(r < 0.7, 0, 1),
    )
    return pa.table(
        {
            "申领编号": numbered("SB", np.arange(first_key, first_key + n), 10),
            "姓名": names(rng, n),
            "身份证号": id_cards(rng, n, (1940, 2024)),
            "手机号": mobiles(rng, n),
            "申领日期": fmt(applied),
            "业务类型": take(rng, CARD_KINDS, n, CARD_KIND_WEIGHTS),
            "申领渠道": pc.take(pa.array(CARD_CHANNELS), pa.array(channel)),
            "办理网点": pc.take(pa.array([x for p in pools for x in p]), pa.array(outlet)),
            "状态": pc.take(pa.array(CARD_STATES), pa.array(status)),
        }
    )


def company_names(rng, n: int) -> tuple[pa.Array, pa.Array]:
    """``n`` distinct enterprise names (江苏华源商贸有限公司 …) and their 企业类型."""
    chars, sizes = len(TRADE_CHARS), (len(COMPANY_PREFIXES), len(INDUSTRIES))
    combos = rng.choice(chars * chars * sizes[0] * sizes[1], n, replace=False)
    rest, second = np.divmod(combos, chars)
    rest, first = np.divmod(rest, chars)
    prefix, industry = np.divmod(rest, sizes[1])
    form = rng.choice(len(COMPANY_FORMS), n, p=COMPANY_FORM_WEIGHTS)
    letters = pa.array(list(TRADE_CHARS))
    name = join(
        pc.take(pa.array(COMPANY_PREFIXES), pa.array(prefix)),
        pc.take(letters, pa.array(first)),
        pc.take(letters, pa.array(second)),
        pc.take(pa.array(INDUSTRIES), pa.array(industry)),
        pc.take(pa.array([f for f, _ in COMPANY_FORMS]), pa.array(form)),
    )
    return name, pc.take(pa.array([t for _, t in COMPANY_FORMS]), pa.array(form))


def enterprise_rows(rng, n: int, start: dt.date, end: dt.date) -> pa.Table:
    """企业登记 rows established in [start, end]; older firms are more often 注销/吊销."""
    established = np.sort(days(rng, n, start, end, power=0.6))
    name, kind = company_names(rng, n)
    gone = np.minimum(0.45, (np.datetime64(end) - established).astype(int) / 365 * 0.02)
    r = rng.random(n)
    state = np.select(
        [r < gone * 0.7, r < gone, r < gone + 0.01, r < gone + 0.12], [3, 2, 4, 1], 0
    )  # 注销, 吊销, 迁出, 在业, else 存续
    capital = np.maximum(1, np.round(np.exp(rng.normal(4.2, 1.3, n))))  # 万元
    return pa.table(
        {
            "统一社会信用代码": usccs(rng, n, "91", established >= np.datetime64("2016-01-01")),
            "企业名称": name,
            "企业类型": kind,
            "法定代表人": names(rng, n),
            "注册资本(万元)": money((capital * 100).astype(np.int64)),
            "成立日期": fmt(established),
            "登记状态": pc.take(pa.array(REGISTRATION_STATES), pa.array(state)),
            "住所": addresses(rng, n, [s for s, _ in vocab.STREETS]),
            "登记机关": pa.array(["示范区市场监督管理局"] * n),
        }
    )


def service_items() -> list[tuple[str, str, str]]:
    """(实施部门, 事项类型, 事项名称) of the 153 掌上大厅 high-frequency items."""
    return [
        (vocab.DISTRICT + dept, kind, item)
        for dept, kind, items in SERVICE_ITEMS
        for item in items.split()
    ]
