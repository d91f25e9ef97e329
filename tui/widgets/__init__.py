"""The dashboard's widgets: one concept per module."""
