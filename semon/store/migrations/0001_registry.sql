-- Registry: who and what the platform watches. Plain tables on every flavour.
CREATE TABLE firms (
    firm_id       text PRIMARY KEY,
    name          text NOT NULL,
    credit_grade  char(1) NOT NULL CHECK (credit_grade IN ('A', 'B', 'C', 'D')),
    tech_level    smallint NOT NULL CHECK (tech_level BETWEEN 1 AND 5),
    phone         text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stations (
    station_id  text PRIMARY KEY,
    name        text NOT NULL,
    district    text NOT NULL,
    license_no  text,
    address     text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stations_district ON stations (district);

-- No foreign key to firms: registries are loaded in any order by bulk import,
-- and an elevator whose firm is not yet known is still an elevator to watch.
CREATE TABLE elevators (
    elevator_id                 text PRIMARY KEY,
    address                     text NOT NULL,
    district                    text NOT NULL,
    lat                         double precision,
    lon                         double precision,
    use_unit                    text NOT NULL,
    use_unit_level              smallint CHECK (use_unit_level BETWEEN 1 AND 5),
    firm_id                     text,
    installed_on                date NOT NULL,
    floors                      smallint,
    rated_speed                 double precision,
    last_inspected_on           date,
    inspection_interval_months  smallint NOT NULL DEFAULT 12,
    status                      text NOT NULL DEFAULT 'in_service'
                                CHECK (status IN ('in_service', 'suspended', 'retired')),
    contact_phone               text,
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX elevators_district ON elevators (district);
CREATE INDEX elevators_firm ON elevators (firm_id);
CREATE INDEX elevators_use_unit ON elevators (use_unit);

CREATE TABLE cylinders (
    cylinder_id                text PRIMARY KEY,
    serial_no                  text,
    gas                        text NOT NULL,
    manufactured_on            date NOT NULL,
    max_fill_kg                double precision NOT NULL,
    design_life_years          smallint NOT NULL,
    inspection_interval_years  smallint NOT NULL,
    last_inspected_on          date,
    owner_station_id           text,
    status                     text NOT NULL DEFAULT 'in_service'
                               CHECK (status IN ('in_service', 'scrapped', 'suspended')),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cylinders_owner ON cylinders (owner_station_id);

CREATE TABLE inspections (
    inspection_id   bigserial PRIMARY KEY,
    equipment_type  text NOT NULL CHECK (equipment_type IN ('elevator', 'cylinder')),
    equipment_id    text NOT NULL,
    inspected_on    date NOT NULL,
    result          text NOT NULL CHECK (result IN ('pass', 'fail', 'conditional')),
    inspector       text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (equipment_type, equipment_id, inspected_on)
);

CREATE TABLE maintenance_records (
    record_id    bigserial PRIMARY KEY,
    elevator_id  text NOT NULL,
    done_on      date NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('routine', 'quarterly', 'half_year', 'annual', 'repair')),
    firm_id      text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (elevator_id, done_on, kind)
);
CREATE INDEX maintenance_records_latest ON maintenance_records (elevator_id, done_on DESC);
