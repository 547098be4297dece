INSERT INTO things (name, colour) VALUES ('first', 'red');
