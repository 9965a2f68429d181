"""QuickBooks: the local copy of its customers and invoices, the match to Autotask's invoices
and the reconciliation (:mod:`books`, :mod:`reconcile`; shared by Online and Desktop), and
QuickBooks Online itself (:mod:`app.core.quickbooks.online`)."""
