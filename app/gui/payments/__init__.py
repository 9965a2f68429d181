"""Taking and looking at payments: the Order Summary dialog, Transactions, Payment Search,
a payment's detail with refunds, and the organization page's transaction history.

The screens render what :mod:`app.core.payments` computes and records; they never decide
an amount or a state themselves.
"""
