"""Reconciliation and settlement (R-REC-1..5): every channel account's bill of every day
against paygate's payments, repeat payments and refunds.

=====================  ==============================================================
``windows``            a bill's day in the channel's time zone, the cut-off buffer
``classifying``        a line no matching statement took → its discrepancy (pure)
``running``            ``Reconciler``: claim a run, download, stage, match, classify,
                       resolve, settle — one (account, day) at a time
``staging``            a bill's source (lines read once), the staged row, the totals check
``findings``           the run's discrepancies: classified, settled by a query, missing at
                       the channel (cut-off), fees; alerts
``resolving``          ``AutoResolver``: ask the channel, apply through the state machine
``settling``           settlement figures per currency (R-REC-4)
``console``            runs, discrepancies (operator resolve with a reason), bills and
                       settlements for apps, the CSV export
``daily``              ``DailyReconciliation``: the workers' job, yesterday per account
=====================  ==============================================================
"""
