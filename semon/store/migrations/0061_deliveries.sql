-- Deliveries: cylinders out from a station to a customer, or back
-- (se/v1/stations/{station_id}/delivery), kept once by delivery_id. Each
-- cylinder of a delivery is also a row of delivery_items, so a cylinder's
-- trace reads its deliveries from one index range in time order. Plain
-- tables on every flavour, like fillings: years of traceability, keys
-- without time.
CREATE TABLE deliveries (
    delivery_id   text PRIMARY KEY,
    station_id    text NOT NULL,
    ts            timestamptz NOT NULL,
    direction     text NOT NULL CHECK (direction IN ('out', 'return')),
    cylinder_ids  text[] NOT NULL,
    customer      text,
    address       text,
    district      text,
    received_at   timestamptz NOT NULL
);
CREATE INDEX deliveries_station ON deliveries (station_id, ts);

CREATE TABLE delivery_items (
    cylinder_id  text NOT NULL,
    ts           timestamptz NOT NULL,
    delivery_id  text NOT NULL REFERENCES deliveries (delivery_id) ON DELETE CASCADE,
    PRIMARY KEY (cylinder_id, ts, delivery_id)
);
