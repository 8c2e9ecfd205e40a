"""Demo data: a deterministic fictional district (示范区) to try Mulu on realistic volumes."""

from catalog.demo.district import District, build_demo, generate_district

__all__ = ["District", "build_demo", "generate_district"]
