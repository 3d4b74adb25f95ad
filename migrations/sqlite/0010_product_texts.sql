-- A product's name and description in another language than the one they were entered in, for
-- shoppers who read that language. The demo catalogue seeds its Chinese here; what the owner
-- types in the product form stays as typed, in every language.
CREATE TABLE product_texts (
    product_id  INTEGER NOT NULL REFERENCES products (id),
    lang        TEXT    NOT NULL CHECK (lang IN ('zh-CN', 'en')),
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    PRIMARY KEY (product_id, lang)
) STRICT;
