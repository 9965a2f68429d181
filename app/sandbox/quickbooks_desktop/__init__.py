"""A local QuickBooks Desktop: a company file that answers qbXML (:mod:`.company`), the Web
Connector that polls PayDesk's service with it (:mod:`.connector`), and the COM request
processor's twin (:mod:`.com`)."""
