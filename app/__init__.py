"""PayDesk: take payments on Autotask invoices and keep Autotask and QuickBooks in step."""

__version__ = "0.1.0"
