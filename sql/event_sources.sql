-- Event sources: one row per tracked event (timestamp, event name, user)
SELECT tripl.create_event_source(
    name => 'app_events',
    query => 'SELECT event_time, event_name, user_id, platform FROM events',
    timestamp_column => 'event_time',
    event_column => 'event_name',
    user_column => 'user_id',
    description => 'Mobile app events') > 0 AS ok;
SELECT name, timestamp_column, timestamp_type, event_column, user_column, description, owner
FROM tripl.event_sources;
SELECT tripl.create_event_source('anonymous_events', 'SELECT event_time, event_name FROM events',
                                 'event_time', 'event_name') > 0 AS ok;

-- Errors
SELECT tripl.create_event_source('app_events', 'SELECT * FROM events', 'event_time', 'event_name');
SELECT tripl.create_event_source('bad', 'SELECT * FROM events', 'event_time', NULL);
SELECT tripl.create_event_source('bad', 'SELECT * FROM events', 'event_time', 'nope');
SELECT tripl.create_event_source('bad', 'SELECT * FROM events', 'event_name', 'event_name');
SELECT tripl.create_event_source('bad', 'SELECT * FROM events', 'event_time', 'event_name', user_column => 'nope');
SELECT tripl.create_event_source('bad', 'SELECT * FROM events', 'event_time', 'event_name', user_column => '');
SELECT tripl.create_event_source('bad', 'UPDATE events SET user_id = 1', 'event_time', 'event_name');
SELECT tripl.create_event_source('bad name', 'SELECT * FROM events', 'event_time', 'event_name');
SELECT count(*) FROM tripl.event_sources;

-- Dropping: refused while metrics use it
SELECT tripl.create_metric('purchases', 'event_composition', event_source => 'app_events',
                           numerator_event => 'Purchase Completed') > 0 AS ok;
SELECT tripl.drop_event_source('app_events');
SELECT tripl.drop_event_source('no_such_source');
SELECT tripl.drop_metric('purchases');
SELECT tripl.drop_event_source('anonymous_events');
SELECT name FROM tripl.event_sources;
