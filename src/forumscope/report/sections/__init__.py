"""The report's sections, one module per family of mechanisms; each has ``build(ctx) -> Section``."""
