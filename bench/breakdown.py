"""Our server with parts of its duties switched off, to show what each one costs.

For the benchmark only: each switch replaces one part of a built app, on the
app's own objects, with nothing or with memory, keeping the answers right:
- "log": the request log writes nothing (the logger is disabled);
- "journal": accepted jobs are not journaled;
- "files": answers are kept in a dict instead of result files;
- "pool": a job runs in the request's thread instead of a pool thread.
With all four off, what is left is the HTTP layer and the lookup.
"""
PARTS = ("log", "journal", "files", "pool")


def switch_off(app, parts):
    """Switch `parts` (a subset of PARTS) off in our app; return the app."""
    # pylint: disable=protected-access
    service = app.extensions["le_stats_sportif"]
    if "log" in parts:
        app.extensions["le_stats_sportif.logger"].disabled = True
    if "journal" in parts:
        service.store._append = lambda entry: None
    if "files" in parts:
        answers = {}
        service.store._files.write = answers.__setitem__
        service.store._files.read = answers.__getitem__
    if "pool" in parts:
        def run_at_once(make_item, bounded=True):
            del bounded
            item = make_item()
            item.run()
            return item
        service.pool.submit = run_at_once
    return app
