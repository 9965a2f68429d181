"""Setup logic shared by the wizard, ``paydesk setup`` and ``paydesk doctor`` — without Qt.

* `validation` — checks on what a person types (email, integration code, zone address).
* `currency` — the currency list for the wizard, the default from the system locale.
* `connection_test` — Test Connection as page state (untested / testing / passed / failed),
  generic over a step's form and outcome; the Autotask and gateway steps build on it.
* `autotask_step` — the Autotask page as a state machine: fields, Test Connection state
  (untested / testing / passed / failed), "may go on" — the wizard only renders it.
* `outcomes` — a Test Connection result as plain-language text, one fix per failure class.
* `steps` — the order of the setup steps and the plug-in points for later ones
  (payment gateway, QuickBooks), and whether setup is complete.
"""
