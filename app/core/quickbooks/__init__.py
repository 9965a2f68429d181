"""QuickBooks: the local copy of its customers and invoices, the match to Autotask's invoices
and the reconciliation (:mod:`books`, :mod:`reconcile`; shared by Online and Desktop), QuickBooks
Online (:mod:`app.core.quickbooks.online`) and QuickBooks Desktop
(:mod:`app.core.quickbooks.desktop`: qbXML through the Web Connector or COM)."""
