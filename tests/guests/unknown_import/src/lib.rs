//! A plugin that imports an interface the host does not offer: refused at load (link).

wit_bindgen::generate!({
    inline: "
        package tessera:plugin@0.1.0;
        interface vault {
            secret: func() -> string;
        }
        interface guest {
            definitions: func() -> string;
        }
        world plugin {
            import vault;
            export guest;
        }
    ",
});

struct Greedy;

impl exports::tessera::plugin::guest::Guest for Greedy {
    fn definitions() -> String {
        tessera::plugin::vault::secret()
    }
}

export!(Greedy);
