"""The store's schema, as ordered migrations: migration k brings `user_version` k-1 to k.

Never edit a released migration; append a new one. Statements are separated by `;` and
contain none themselves.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: command ids (duplicates are refused across restarts) and the command audit log
    """
    CREATE TABLE command_ids (
        id TEXT PRIMARY KEY,
        system TEXT,
        seen_at TEXT NOT NULL
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        system TEXT,
        id TEXT,
        action TEXT,
        result TEXT NOT NULL,
        operator TEXT,
        error_code TEXT,
        error_message TEXT,
        args_json TEXT
    );
    CREATE INDEX audit_id ON audit (id)
    """,
    # 2: the deployment log (one record per source excursion, each stop), the source inventory
    # with its history, and each system's last persisted state (restart recovery)
    """
    CREATE TABLE deployments (
        id TEXT PRIMARY KEY,
        system TEXT NOT NULL,
        unit TEXT,
        source TEXT,
        operator TEXT,
        program TEXT,
        command_ids TEXT NOT NULL DEFAULT '[]',
        session INTEGER,
        started TEXT NOT NULL,
        ended TEXT,
        outcome TEXT
    );
    CREATE INDEX deployments_started ON deployments (started);
    CREATE TABLE stops (
        deployment TEXT NOT NULL REFERENCES deployments (id),
        n INTEGER NOT NULL,
        state TEXT NOT NULL,
        position TEXT NOT NULL,
        arrived TEXT NOT NULL,
        departed TEXT,
        PRIMARY KEY (deployment, n)
    );
    CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        activity_bq REAL,
        radioactive INTEGER NOT NULL,
        state TEXT NOT NULL,
        system TEXT,
        unit TEXT,
        updated TEXT NOT NULL
    );
    CREATE TABLE source_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        source TEXT NOT NULL,
        action TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        system TEXT,
        unit TEXT,
        operator TEXT,
        command_id TEXT
    );
    CREATE TABLE snapshots (
        system TEXT PRIMARY KEY,
        ts TEXT NOT NULL,
        doc TEXT NOT NULL
    )
    """,
    # 3: calibration program runs (a restarted daemon resumes or reports an interrupted one),
    # and the DAQ window taken at each stop of a deployment
    """
    CREATE TABLE program_runs (
        run TEXT PRIMARY KEY,
        program TEXT NOT NULL,
        path TEXT NOT NULL,
        digest TEXT NOT NULL,
        operator TEXT,
        state TEXT NOT NULL,
        move INTEGER NOT NULL,
        done_points INTEGER NOT NULL,
        reason TEXT,
        started TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    ALTER TABLE stops ADD COLUMN daq TEXT
    """,
    # 4: laser emission intervals (rate, intensity, start, end, why it ended), each tied to the
    # deployment record it happened in (calibd/store/emissions.py)
    """
    CREATE TABLE laser_emissions (
        id TEXT PRIMARY KEY,
        deployment TEXT,
        system TEXT NOT NULL,
        unit TEXT,
        source TEXT,
        rate_hz REAL NOT NULL,
        intensity REAL NOT NULL,
        started TEXT NOT NULL,
        ended TEXT,
        end_reason TEXT,
        command_id TEXT,
        session INTEGER
    );
    CREATE INDEX laser_emissions_deployment ON laser_emissions (deployment);
    CREATE INDEX laser_emissions_started ON laser_emissions (started)
    """,
    # 5: temperature profiles along the ACU axis: one row per profile (with its outcome and
    # least-squares fit), one per sample (calibd/store/profiles.py)
    """
    CREATE TABLE profiles (
        id TEXT PRIMARY KEY,
        system TEXT NOT NULL,
        unit TEXT,
        sensor TEXT,
        z_from_m REAL NOT NULL,
        z_to_m REAL NOT NULL,
        speed_m_s REAL NOT NULL,
        sample_period_s REAL,
        operator TEXT,
        command_id TEXT,
        session INTEGER,
        started TEXT NOT NULL,
        ended TEXT,
        outcome TEXT,
        message TEXT,
        n_samples INTEGER NOT NULL DEFAULT 0,
        gradient_c_m REAL,
        intercept_c REAL,
        mean_c REAL
    );
    CREATE INDEX profiles_started ON profiles (started);
    CREATE TABLE profile_samples (
        profile TEXT NOT NULL REFERENCES profiles (id),
        n INTEGER NOT NULL,
        ts TEXT NOT NULL,
        z_m REAL NOT NULL,
        temperature_c REAL NOT NULL,
        PRIMARY KEY (profile, n)
    )
    """,
)
