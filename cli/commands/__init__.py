"""The `codedrop` commands by group; `cli/main.py` adds them to the command group.

- `serving`: the long-running parts (`run`, `api`, `bot telegram|discord`, `scheduler`) and
  `health`, all through `cli.runtime.Runtime`;
- `jobs`: the scheduled jobs (`jobs list`, `jobs run`);
- `schema`: the database and the bucket (`migrate`, `check-migrations`, `create-bucket`);
- `accounts`: developers, API keys, campaign members, link tokens;
- `config`: the configuration (`settings`, and the settings help and README table).

One-shot commands run their work through `cli.runtime.run_once`.
"""
