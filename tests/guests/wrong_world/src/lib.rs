//! A component that implements something else entirely.

wit_bindgen::generate!({
    inline: "
        package other:thing;
        interface api {
            hello: func() -> string;
        }
        world thing {
            export api;
        }
    ",
});

struct Thing;

impl exports::other::thing::api::Guest for Thing {
    fn hello() -> String {
        "hello".to_string()
    }
}

export!(Thing);
