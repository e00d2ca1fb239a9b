"""The finance back office (issue 5): orders, payments and refunds of the programmes a finance role covers,
their totals and Excel export, manual refunds and retries, and the daily reconciliation report."""
