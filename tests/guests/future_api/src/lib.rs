//! A plugin built against a later, incompatible contract version.

wit_bindgen::generate!({
    inline: "
        package tessera:plugin@0.9.0;
        interface guest {
            definitions: func() -> string;
        }
        world plugin {
            export guest;
        }
    ",
});

struct Future;

impl exports::tessera::plugin::guest::Guest for Future {
    fn definitions() -> String {
        "from the future".to_string()
    }
}

export!(Future);
