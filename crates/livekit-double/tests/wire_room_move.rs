//! RoomService `MoveParticipant` and `UpdateRoomMetadata` on the wire: grants, errors, and
//! what a move does to both rooms.

mod common;

use common::*;
use livekit_protocol::*;
use serde_json::json;

const ROOMS: &str = "livekit.RoomService";

fn joined(lk: &livekit_double::LiveKitDouble, room: &str, identity: &str) {
    lk.join_participant(
        room,
        ParticipantInfo {
            sid: format!("PA_{identity}"),
            identity: identity.into(),
            state: participant_info::State::Active as i32,
            ..Default::default()
        },
    );
}

fn mover(room: &str, destination: &str) -> String {
    token(json!({"video": {"roomAdmin": true, "room": room, "destinationRoom": destination}}))
}

fn req(room: &str, identity: &str, destination: &str) -> MoveParticipantRequest {
    MoveParticipantRequest {
        room: room.into(),
        identity: identity.into(),
        destination_room: destination.into(),
    }
}

async fn move_err(
    lk: &livekit_double::LiveKitDouble,
    token: &str,
    r: &MoveParticipantRequest,
) -> (u16, String, String) {
    let e = twirp::<_, MoveParticipantResponse>(lk, ROOMS, "MoveParticipant", token, r)
        .await
        .unwrap_err();
    let (status, code, msg) = e.parts();
    (status, code.to_owned(), msg.to_owned())
}

#[tokio::test]
async fn a_move_needs_admin_of_the_room_and_the_destination() {
    let lk = start().await;
    joined(&lk, "a", "alice");
    let r = req("a", "alice", "b");
    let denied = (
        401,
        "unauthenticated".to_owned(),
        "permissions denied".to_owned(),
    );
    for t in [
        token(json!({"video": {"roomAdmin": true, "room": "a"}})),
        token(json!({"video": {"roomAdmin": true, "room": "b", "destinationRoom": "b"}})),
        token(json!({"video": {"room": "a", "destinationRoom": "b"}})),
        token(json!({"sip": {"admin": true}})),
    ] {
        assert_eq!(move_err(&lk, &t, &r).await, denied);
    }
    assert_eq!(lk.participants("a").len(), 1, "nothing moved");
}

#[tokio::test]
async fn a_move_refuses_what_it_cannot_do() {
    let lk = start().await;
    joined(&lk, "a", "alice");
    joined(&lk, "b", "alice");
    let (status, code, msg) = move_err(&lk, &mover("a", "a"), &req("a", "alice", "a")).await;
    assert_eq!((status, code.as_str()), (400, "invalid_argument"));
    assert_eq!(msg, "destination room cannot be the same as source room");
    let (_, code, msg) = move_err(&lk, &mover("x", "b"), &req("x", "alice", "b")).await;
    assert_eq!(code, "not_found");
    assert!(msg.ends_with("requested room does not exist"), "{msg}");
    let (_, code, msg) = move_err(&lk, &mover("a", "b"), &req("a", "bob", "b")).await;
    assert_eq!(code, "not_found");
    assert!(msg.ends_with("participant does not exist"), "{msg}");
    let (_, code, _) = move_err(&lk, &mover("a", "b"), &req("a", "alice", "b")).await;
    assert_eq!(code, "already_exists");
    let (_, code, msg) = move_err(&lk, &mover("a", ""), &req("a", "alice", "")).await;
    assert_eq!(code, "invalid_argument");
    assert!(msg.ends_with("no room name"), "{msg}");
}

#[tokio::test]
async fn a_moved_participant_leaves_one_room_for_the_other() {
    let lk = start().await;
    joined(&lk, "consult", "target");
    joined(&lk, "caller", "caller");
    let _: MoveParticipantResponse = twirp(
        &lk,
        ROOMS,
        "MoveParticipant",
        &mover("consult", "caller"),
        &req("consult", "target", "caller"),
    )
    .await
    .unwrap();
    let ids: Vec<String> = lk
        .participants("caller")
        .into_iter()
        .map(|p| p.identity)
        .collect();
    assert_eq!(ids, ["caller", "target"]);
    assert!(!lk.rooms().iter().any(|r| r.name == "consult"), "emptied");
    let events: Vec<(String, String, i32)> = lk
        .webhook_events()
        .into_iter()
        .filter(|e| {
            e.participant
                .as_ref()
                .is_some_and(|p| p.identity == "target")
        })
        .map(|e| {
            let p = e.participant.unwrap();
            (e.event, e.room.unwrap().name, p.disconnect_reason)
        })
        .collect();
    assert_eq!(
        events[1..],
        [
            (
                "participant_left".to_owned(),
                "consult".to_owned(),
                DisconnectReason::Migration as i32
            ),
            ("participant_joined".to_owned(), "caller".to_owned(), 0),
        ]
    );
}

#[tokio::test]
async fn room_metadata_needs_admin_of_the_room() {
    let lk = start().await;
    joined(&lk, "r", "alice");
    let r = UpdateRoomMetadataRequest {
        room: "r".into(),
        metadata: "{\"x\":1}".into(),
    };
    let e = twirp::<_, Room>(
        &lk,
        ROOMS,
        "UpdateRoomMetadata",
        &token(json!({"video": {"roomAdmin": true, "room": "other"}})),
        &r,
    )
    .await
    .unwrap_err();
    assert_eq!(e.parts(), (401, "unauthenticated", "permissions denied"));
    let admin = token(json!({"video": {"roomAdmin": true, "room": "r"}}));
    let room: Room = twirp(&lk, ROOMS, "UpdateRoomMetadata", &admin, &r)
        .await
        .unwrap();
    assert_eq!(room.metadata, "{\"x\":1}");
    assert_eq!(lk.rooms()[0].metadata, "{\"x\":1}");
    let missing = UpdateRoomMetadataRequest {
        room: "gone".into(),
        metadata: "m".into(),
    };
    let admin_gone = token(json!({"video": {"roomAdmin": true, "room": "gone"}}));
    let e = twirp::<_, Room>(&lk, ROOMS, "UpdateRoomMetadata", &admin_gone, &missing)
        .await
        .unwrap_err();
    assert_eq!(e.code, "not_found");
}
