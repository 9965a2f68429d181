"""QuickBooks Desktop: qbXML requests and answers (:mod:`.qbxml`), the conversation one
connection holds with a company file (:mod:`.session`), the Web Connector's SOAP service
(:mod:`.service`), the ``.qwc`` file (:mod:`.qwc`), the COM request processor on Windows
(:mod:`.com`) and the posting channel (:mod:`.channel`)."""
