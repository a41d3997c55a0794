-- Coverage (CONTRACT.md v1.1 "Coverage"): an elevator's liability insurance,
-- a cylinder's electronic tag and insurance. insured_until null = uninsured.
ALTER TABLE elevators
    ADD COLUMN insurer text,
    ADD COLUMN insurance_policy text,
    ADD COLUMN insured_until date;
ALTER TABLE cylinders
    ADD COLUMN tag text NOT NULL DEFAULT 'none' CHECK (tag IN ('qr', 'rfid', 'none')),
    ADD COLUMN insured_until date;

-- The coverage statistics group like the overdue ones; covering indexes keep
-- them index-only scans on a city's registry.
CREATE INDEX elevators_cover_district ON elevators (district)
    INCLUDE (insured_until) WHERE status = 'in_service';
CREATE INDEX elevators_cover_firm ON elevators (firm_id)
    INCLUDE (insured_until) WHERE status = 'in_service';
CREATE INDEX elevators_cover_use_unit ON elevators (use_unit)
    INCLUDE (insured_until) WHERE status = 'in_service';
CREATE INDEX cylinders_cover_station ON cylinders (owner_station_id)
    INCLUDE (tag, insured_until) WHERE status = 'in_service';
-- The insurance sweep reads the dates falling due.
CREATE INDEX elevators_insured_until ON elevators (insured_until) WHERE status = 'in_service';
CREATE INDEX cylinders_insured_until ON cylinders (insured_until) WHERE status = 'in_service';
