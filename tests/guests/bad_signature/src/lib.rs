//! A plugin exporting the right interface name with the wrong function types.

wit_bindgen::generate!({
    inline: "
        package tessera:plugin@0.1.0;
        interface guest {
            definitions: func() -> string;
            materialize: func(asset: string) -> list<u8>;
            evaluate-sensor: func() -> string;
        }
        world plugin {
            export guest;
        }
    ",
});

struct Impostor;

impl exports::tessera::plugin::guest::Guest for Impostor {
    fn definitions() -> String {
        "not a definitions record".to_string()
    }

    fn materialize(asset: String) -> Vec<u8> {
        asset.into_bytes()
    }

    fn evaluate_sensor() -> String {
        String::new()
    }
}

export!(Impostor);
