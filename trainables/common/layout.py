"""The run folder's layout, named once for the studies that write it and the analysis that reads it.

    STORAGE/NAME/              --storage-path/--name: every run of that name
      latest                   the newest run (a link; a file holding its id on object storage)
      RUN_ID/                  one run (RUN_DIR), named by its start time
    RUN_DIR/
      study.json               which study, search and data made the run
      study.log                Ray's and Tune's own output (the console shows progress only)
      provenance.json          command, code version, libraries, resources, times
      optuna.db                the Optuna study (--search optuna, default storage)
      train_<task>_<id>/       one folder a trial (Ray Tune): params.json, result.json, checkpoint_*/
      lost_trials/             folders of trials a killed driver started but Tune never recorded (set aside on --resume)
      .resume-backup/          the last intact copy of each of Tune's state files (put back if one is damaged)
      trials.parquet|csv       one row a trial (analysis)
      history.parquet|csv      one row a recorded epoch (analysis)
      report.md, report.html, claims.md, tables/, plots/
"""

STUDY_FILE = "study.json"
AUTO_SEEDS = "auto"  # study.json's "seeds" when each comparison got seeds while its verdict was open
LOG_FILE = "study.log"
PROVENANCE_FILE = "provenance.json"
OPTUNA_DB = "optuna.db"
LOST_TRIALS = "lost_trials"
RESUME_BACKUP = ".resume-backup"
TRIAL_RESULTS = "result.json"  # Ray Tune's: one JSON line a recorded epoch, in each trial folder
TRIALS = "trials"  # + .parquet / .csv
HISTORY = "history"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
CLAIMS_MD = "claims.md"
TABLES_DIR = "tables"
PLOTS_DIR = "plots"
SUMMARY = "summary"  # the report's opening table: tables/summary.md|csv
COMPARISONS = "comparisons"  # every comparison: tables/comparisons.csv and the forest plot plots/comparisons.png
# Trial config values appear in the results as columns under this prefix (Ray Tune's own naming).
CONFIG_PREFIX = "config/"
SEED_COLUMN = CONFIG_PREFIX + "seed"  # the column comparisons pair trials by
