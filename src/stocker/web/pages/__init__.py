"""One module per page (or family of pages); each exposes `routes(site) -> APIRouter`."""
