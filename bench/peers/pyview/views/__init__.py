from .counter import CounterLiveView
from .items import ListLiveView
from .table import TableLiveView

__all__ = ["CounterLiveView", "ListLiveView", "TableLiveView"]
