"""Pictures of the service map and of one trace, as standalone SVG or self-contained HTML.

Stdlib only: these ship in the service-map Lambda and are also called by the CLI.
"""

from service_map.pictures.flame import flame_html, flame_svg
from service_map.pictures.map_page import map_html
from service_map.pictures.map_picture import map_svg

__all__ = ["flame_html", "flame_svg", "map_html", "map_svg"]
