"""The portal's words in Chinese (default) and English (``?lang=en``)."""

from __future__ import annotations

from mulu.web.portal.words import GROUPS

LANGUAGES = ("zh", "en")
STRINGS: dict[str, tuple[str, str]] = {
    "site": ("政务信息资源目录", "Government data-resource catalogue"),
    "search": ("搜索", "Search"),
    "search_placeholder": (
        "搜索名称、摘要、信息项、提供方、代码或拼音首字母",
        "Search names, summaries, data items, providers, codes, pinyin",
    ),
    "results": ("条结果", "results"),
    "freshness": ("更新时效", "Freshness"),
    "quality": ("质量校验", "Quality"),
    "facets": ("筛选", "Filters"),
    "organisation": ("提供方", "Provider"),
    "category": ("信息资源分类", "Category"),
    "share_type": ("共享类型", "Sharing"),
    "open_type": ("开放属性", "Openness"),
    "update_cycle": ("更新周期", "Update cycle"),
    "format": ("信息资源格式", "Format"),
    "code": ("信息资源代码", "Resource code"),
    "summary": ("摘要", "Summary"),
    "data_items": ("信息项", "Data items"),
    "data_type": ("数据类型", "Data type"),
    "published_at": ("发布日期", "Published"),
    "updated_at": ("最近更新时间", "Last updated"),
    "status": ("状态", "Status"),
    "deadline": ("应更新时间", "Deadline"),
    "delay": ("逾期天数", "Days late"),
    "history": ("更新记录", "Update history"),
    "source": ("来源", "Source"),
    "note": ("说明", "Note"),
    "quality_score": ("质量评分", "Quality score"),
    "recent_runs": ("最近校验", "Recent quality runs"),
    "sample_rows": ("样例数据", "Sample rows"),
    "no_sample_conditional": (
        "有条件共享：样例数据需提出共享申请后查看",
        "Conditional sharing: sample rows after an access request",
    ),
    "no_sample_closed": ("不予共享：不提供样例数据", "Not shared: no sample rows"),
    "no_dataset": ("尚无接入的数据集", "No dataset loaded for this entry yet"),
    "scorecard": ("更新及时率通报", "On-time update scorecard"),
    "overdue_by_org": ("逾期目录数（按提供方）", "Overdue entries by provider"),
    "trend": ("按时更新率趋势", "On-time rate by month"),
    "rank": ("排名", "Rank"),
    "tracked": ("考核目录数", "Tracked"),
    "due": ("应更新次数", "Due"),
    "on_time": ("按时更新次数", "On time"),
    "on_time_rate": ("按时更新率", "On-time rate"),
    "overdue": ("逾期目录数", "Overdue"),
    "median_delay": ("逾期中位天数", "Median days late"),
    "runs": ("校验记录", "Quality runs"),
    "dataset": ("数据集", "Dataset"),
    "rows": ("行数", "Rows"),
    "errors": ("错误", "Errors"),
    "warnings": ("警告", "Warnings"),
    "score": ("评分", "Score"),
    "decision": ("审核结论", "Decision"),
    "rule": ("校验规则", "Rule"),
    "severity": ("严重程度", "Severity"),
    "unexpected": ("不符合行数", "Failing rows"),
    "failing_rows": ("不符合的行（前20行）", "Failing rows (first 20)"),
    "file": ("文件", "File"),
    "row": ("行", "Row"),
    "review": ("审核", "Review"),
    "accept": ("通过并发布", "Accept and publish"),
    "reject": ("退回", "Reject"),
    "waive": ("豁免此规则", "Waive this rule"),
    "reviewer": ("审核人", "Reviewer"),
    "submit": ("提交", "Submit"),
    "pending": ("待审核", "Pending"),
    "all": ("全部", "All"),
    "none": ("无", "None"),
    "fresh": ("正常", "Fresh"),
    "due_soon": ("即将到期", "Due soon"),
    "never_updated": ("从未更新", "Never updated"),
    "not_tracked": ("不考核", "Not tracked"),
    "passed": ("通过", "Passed"),
    "warned": ("警告", "Warned"),
    "blocked": ("已拦截", "Blocked"),
    "accepted": ("已通过", "Accepted"),
    "rejected": ("已退回", "Rejected"),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "month": ("月份", "Month"),
    "not_found": ("未找到", "Not found"),
}

for _group in GROUPS:
    STRINGS.update(_group)


def translator(lang: str):
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = STRINGS.get(key)
        return pair[index] if pair else key

    return t
