//! RoomService and AgentDispatchService on the wire: round trips and grants.

mod common;

use common::*;
use livekit_protocol::*;
use serde_json::json;

const ROOMS: &str = "livekit.RoomService";
const AGENTS: &str = "livekit.AgentDispatchService";

fn denied() -> (u16, &'static str, &'static str) {
    (401, "unauthenticated", "permissions denied")
}

#[tokio::test]
async fn rooms_round_trip() {
    let lk = start().await;
    let create = token(json!({"video": {"roomCreate": true}}));
    let req = CreateRoomRequest {
        name: "r1".into(),
        ..Default::default()
    };
    let room: Room = twirp(&lk, ROOMS, "CreateRoom", &create, &req)
        .await
        .unwrap();
    assert!(room.sid.starts_with("RM_"), "{}", room.sid);
    assert_eq!((room.empty_timeout, room.departure_timeout), (300, 20));
    assert!(room.creation_time > 0);
    // An existing room is returned, updated with the request's non-zero fields.
    let again = CreateRoomRequest {
        name: "r1".into(),
        metadata: "m".into(),
        ..Default::default()
    };
    let same: Room = twirp(&lk, ROOMS, "CreateRoom", &create, &again)
        .await
        .unwrap();
    assert_eq!(
        (same.sid.as_str(), same.metadata.as_str()),
        (room.sid.as_str(), "m")
    );

    let list = token(json!({"video": {"roomList": true}}));
    let rooms: ListRoomsResponse =
        twirp(&lk, ROOMS, "ListRooms", &list, &ListRoomsRequest::default())
            .await
            .unwrap();
    assert_eq!(rooms.rooms.len(), 1);
    let filtered: ListRoomsResponse = twirp(
        &lk,
        ROOMS,
        "ListRooms",
        &list,
        &ListRoomsRequest {
            names: vec!["other".into()],
        },
    )
    .await
    .unwrap();
    assert!(filtered.rooms.is_empty());

    let admin = token(json!({"video": {"roomAdmin": true, "room": "r1"}}));
    let ps: ListParticipantsResponse = twirp(
        &lk,
        ROOMS,
        "ListParticipants",
        &admin,
        &ListParticipantsRequest { room: "r1".into() },
    )
    .await
    .unwrap();
    assert!(ps.participants.is_empty());
    let e = twirp::<_, RemoveParticipantResponse>(
        &lk,
        ROOMS,
        "RemoveParticipant",
        &admin,
        &RoomParticipantIdentity {
            room: "r1".into(),
            identity: "nobody".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.parts(),
        (
            404,
            "not_found",
            "twirp error unknown: participant does not exist"
        )
    );

    let del = DeleteRoomRequest { room: "r1".into() };
    let _: DeleteRoomResponse = twirp(&lk, ROOMS, "DeleteRoom", &create, &del)
        .await
        .unwrap();
    assert!(lk.rooms().is_empty());
    let e = twirp::<_, DeleteRoomResponse>(&lk, ROOMS, "DeleteRoom", &create, &del)
        .await
        .unwrap_err();
    assert_eq!(
        e.parts(),
        (
            404,
            "not_found",
            "twirp error unknown: requested room does not exist"
        )
    );
    let names: Vec<_> = lk.webhook_events().into_iter().map(|e| e.event).collect();
    assert_eq!(names, ["room_started", "room_finished"]);
    let recorded = lk.requests();
    assert_eq!(recorded[0].service, "livekit.RoomService");
    assert_eq!(recorded[0].method, "CreateRoom");
}

#[tokio::test]
async fn room_grants_are_checked() {
    let lk = start().await;
    let room = CreateRoomRequest {
        name: "r".into(),
        ..Default::default()
    };
    let wrong = [
        json!({"video": {"roomList": true}}),
        json!({"video": {"roomAdmin": true, "room": "r"}}),
        json!({"sip": {"admin": true, "call": true}}),
    ];
    for g in &wrong {
        let e = twirp::<_, Room>(&lk, ROOMS, "CreateRoom", &token(g.clone()), &room)
            .await
            .unwrap_err();
        assert_eq!(e.parts(), denied(), "{g}");
    }
    let e = twirp::<_, ListRoomsResponse>(
        &lk,
        ROOMS,
        "ListRooms",
        &token(json!({"video": {"roomCreate": true}})),
        &ListRoomsRequest::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.parts(), denied());
    // Room admin is per room.
    let other = token(json!({"video": {"roomAdmin": true, "room": "other"}}));
    let req = ListParticipantsRequest { room: "r".into() };
    let e = twirp::<_, ListParticipantsResponse>(&lk, ROOMS, "ListParticipants", &other, &req)
        .await
        .unwrap_err();
    assert_eq!(e.parts(), denied());
    let e = twirp::<_, DeleteRoomResponse>(
        &lk,
        ROOMS,
        "DeleteRoom",
        &other,
        &DeleteRoomRequest { room: "r".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(e.parts(), denied());
    // Unimplemented methods are still routed.
    let e =
        twirp::<_, SendDataResponse>(&lk, ROOMS, "SendData", &other, &SendDataRequest::default())
            .await
            .unwrap_err();
    assert_eq!(e.code, "unimplemented");
}

#[tokio::test]
async fn agent_dispatch_round_trip() {
    let lk = start().await;
    let admin = token(json!({"video": {"roomAdmin": true, "room": "agents"}}));
    let req = CreateAgentDispatchRequest {
        agent_name: "receptionist".into(),
        room: "agents".into(),
        metadata: "{\"k\":1}".into(),
        ..Default::default()
    };
    let d: AgentDispatch = twirp(&lk, AGENTS, "CreateDispatch", &admin, &req)
        .await
        .unwrap();
    assert!(d.id.starts_with("AD_"), "{}", d.id);
    assert_eq!(
        (d.agent_name.as_str(), d.room.as_str()),
        ("receptionist", "agents")
    );
    assert!(d.state.as_ref().unwrap().created_at > 0);
    // The room is created for the dispatch.
    assert_eq!(lk.rooms()[0].name, "agents");
    assert_eq!(lk.dispatches(), vec![d.clone()]);

    let list = ListAgentDispatchRequest {
        room: "agents".into(),
        ..Default::default()
    };
    let l: ListAgentDispatchResponse = twirp(&lk, AGENTS, "ListDispatch", &admin, &list)
        .await
        .unwrap();
    assert_eq!(l.agent_dispatches, vec![d.clone()]);
    let del = DeleteAgentDispatchRequest {
        dispatch_id: d.id.clone(),
        room: "agents".into(),
    };
    let gone: AgentDispatch = twirp(&lk, AGENTS, "DeleteDispatch", &admin, &del)
        .await
        .unwrap();
    assert_eq!(gone.id, d.id);
    let e = twirp::<_, AgentDispatch>(&lk, AGENTS, "DeleteDispatch", &admin, &del)
        .await
        .unwrap_err();
    assert_eq!(
        e.parts(),
        (
            404,
            "not_found",
            "twirp error unknown: dispatch ID not found"
        )
    );

    // Another room's admin is refused; an unknown room is not found.
    let other = token(json!({"video": {"roomAdmin": true, "room": "x"}}));
    let e = twirp::<_, AgentDispatch>(&lk, AGENTS, "CreateDispatch", &other, &req)
        .await
        .unwrap_err();
    assert_eq!(e.parts(), denied());
    let e = twirp::<_, ListAgentDispatchResponse>(
        &lk,
        AGENTS,
        "ListDispatch",
        &other,
        &ListAgentDispatchRequest {
            room: "x".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.parts(),
        (
            404,
            "not_found",
            "twirp error unknown: requested room does not exist"
        )
    );
    assert_eq!(lk.requests()[0].service, "livekit.AgentDispatchService");
}
