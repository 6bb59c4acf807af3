"""Background work in ``portpass serve``: the loops that run beside the web app, and
the machinery they share."""
