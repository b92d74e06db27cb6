"""From stored cells to what people read: the tables' summaries (grid), report.md and the plots (report,
plots; plotdigest tells current plot files from stale ones without importing matplotlib), the
self-contained HTML page (html), run against run (compare), the length-generalisation and gradient-flow
sections (generalisation, flowreport) and exports to TensorBoard and MLflow (trackers). Nothing here
trains or decides what a cell's numbers mean (bench.verdicts does)."""
