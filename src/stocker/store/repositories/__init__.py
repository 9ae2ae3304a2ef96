"""One repository per aggregate: the only place (with `stocker.store.bulk` and the read models)
where SQL is written. Each takes the unit of work's connection; none commits."""
