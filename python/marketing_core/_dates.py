from __future__ import annotations

import datetime as _dt



def ds_string(ds: str | _dt.date) -> str:
    """``ds`` as ``YYYY-MM-DD``; accepts a string, a date or a datetime."""
    if isinstance(ds, _dt.datetime):
        return ds.date().isoformat()
    if isinstance(ds, _dt.date):
        return ds.isoformat()
    return str(ds)
