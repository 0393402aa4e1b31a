"""Side-by-side training runs that differ in one or more config fields."""

from kerasdl.comparison.compare import Comparison, Variant, compare, parse_vary, plan_variants

__all__ = ["Comparison", "Variant", "compare", "parse_vary", "plan_variants"]
