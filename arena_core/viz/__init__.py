"""Figures and comparison tables built from records (plotly, pandas); data in, figure out."""
