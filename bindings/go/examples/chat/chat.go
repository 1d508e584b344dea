package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mizulive/mizulive/bindings/go/live"
)

// The chat keeps examples-python/chat.py's views, topics, messages and limits, so
// both behave the same.
const (
	history    = 50
	maxText    = 500
	maxName    = 24
	roomsTopic = "chat:rooms"
)

func roomTopic(room string) string { return "chat:room:" + room }

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes a room name fit for a URL path: lower-case letters, digits, dashes.
func slug(text string) string {
	s := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(text), "-"), "-")
	if len(s) > 32 { // only ASCII is left, so bytes are characters
		s = s[:32]
	}
	return s
}

// ChatMessage is one line of a room.
type ChatMessage struct {
	From string `json:"from"`
	Text string `json:"text"`
}

// notice is what a room publishes: a message, or news that its members or the
// list of rooms changed.
type notice struct {
	Kind string `json:"kind"` // "message", "presence" or "rooms"
	From string `json:"from,omitempty"`
	Text string `json:"text,omitempty"`
}

type member struct{ session, name string }

// Directory is who is in which room, and each room's recent messages, for this
// process. Every session of every room shares it, from many threads at once.
type Directory struct {
	mu      sync.Mutex
	members map[string][]member
	history map[string][]ChatMessage
}

func NewDirectory() *Directory {
	return &Directory{members: map[string][]member{}, history: map[string][]ChatMessage{}}
}

// Join adds a session to a room, or renames it there.
func (d *Directory) Join(room, session, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ms := d.members[room]
	for i := range ms {
		if ms[i].session == session {
			ms[i].name = name
			return
		}
	}
	d.members[room] = append(ms, member{session, name})
}

func (d *Directory) Leave(room, session string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ms := d.members[room]
	for i := range ms {
		if ms[i].session == session {
			ms = append(ms[:i:i], ms[i+1:]...)
			break
		}
	}
	if len(ms) == 0 {
		delete(d.members, room)
	} else {
		d.members[room] = ms
	}
}

// Members are the names in a room, sorted without regard to case.
func (d *Directory) Members(room string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, 0, len(d.members[room]))
	for _, m := range d.members[room] {
		names = append(names, m.name)
	}
	sort.SliceStable(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	return names
}

// RoomInfo is a room as the lobby lists it.
type RoomInfo struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
}

// Rooms lists every room with someone in it, and the lobby, by name.
func (d *Directory) Rooms() []RoomInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := []string{"lobby"}
	for name := range d.members {
		if name != "lobby" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	rooms := make([]RoomInfo, len(names))
	for i, name := range names {
		rooms[i] = RoomInfo{Name: name, Members: len(d.members[name])}
	}
	return rooms
}

func (d *Directory) Post(room string, m ChatMessage) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := append(d.history[room], m)
	if len(h) > history {
		h = h[len(h)-history:]
	}
	d.history[room] = h
}

func (d *Directory) History(room string) []ChatMessage {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ChatMessage{}, d.history[room]...)
}

// RoomState is one session's view of a room.
type RoomState struct {
	Room     string        `json:"room"`
	Me       string        `json:"me"`
	Draft    string        `json:"draft"`
	Error    string        `json:"error"`
	Messages []ChatMessage `json:"messages"`
	Members  []string      `json:"members"`
}

// RoomPage is one chat room: messages, members, a send form and a rename form.
// Sending publishes on the room's topic; every session in the room, the sender's
// too, gets it in Info and re-renders its messages. The forms are lv.form forms,
// so the chat works with JavaScript off as well.
type RoomPage struct{ dir *Directory }

func (p *RoomPage) View() live.View {
	return live.View{Page: "chat/room", Regions: map[string]string{
		"messages": "chat/messages", "members": "chat/members", "composer": "chat/composer",
	}}
}

func (p *RoomPage) Mount(ctx *live.Ctx, s *live.Session[RoomState]) error {
	room := ctx.Param("room")
	me := s.UserID
	if me == "" {
		me = "guest-" + s.ID[:4]
	}
	s.State = RoomState{Room: room, Me: me, Messages: p.dir.History(room), Members: []string{}}
	if err := ctx.SetTitle(fmt.Sprintf("#%s · mizulive chat", room)); err != nil {
		return err
	}
	if err := ctx.Subscribe(roomTopic(room)); err != nil {
		return err
	}
	p.dir.Join(room, s.ID, me)
	s.State.Members = p.dir.Members(room)
	return p.presenceChanged(ctx, room)
}

func (p *RoomPage) Handle(ctx *live.Ctx, s *live.Session[RoomState], e live.Event) error {
	st := &s.State
	switch e.Name {
	case "send":
		text := e.Text("text")
		if text == "" {
			refuse(s, "Type a message first.", text)
			return nil
		}
		if utf8.RuneCountInString(text) > maxText {
			refuse(s, fmt.Sprintf("Messages are at most %d characters.", maxText), text)
			return nil
		}
		m := ChatMessage{From: st.Me, Text: text}
		p.dir.Post(st.Room, m)
		if err := ctx.Publish(roomTopic(st.Room), notice{Kind: "message", From: m.From, Text: m.Text}); err != nil {
			return err
		}
		st.Draft, st.Error = "", ""
		s.Mark("composer")
		return ctx.Focus("#send input[name=text]")
	case "rename":
		name := e.Text("name")
		if name == "" || utf8.RuneCountInString(name) > maxName {
			st.Error = fmt.Sprintf("A name has 1 to %d characters.", maxName)
			s.Mark("composer")
			return nil
		}
		st.Me, st.Error = name, ""
		p.dir.Join(st.Room, s.ID, name)
		s.Mark("composer")
		return p.presenceChanged(ctx, st.Room)
	}
	return fmt.Errorf("unknown event %q", e.Name)
}

func (p *RoomPage) Info(ctx *live.Ctx, s *live.Session[RoomState], msg live.Message) error {
	st := &s.State
	if msg.Topic == live.LaggedTopic {
		// The mailbox overflowed: reload what was missed.
		st.Messages = p.dir.History(st.Room)
		st.Members = p.dir.Members(st.Room)
		s.Mark("messages", "members")
		return nil
	}
	n, err := live.Decode[notice](msg)
	if err != nil {
		return err
	}
	switch n.Kind {
	case "message":
		st.Messages = append(st.Messages, ChatMessage{From: n.From, Text: n.Text})
		if len(st.Messages) > history {
			st.Messages = st.Messages[len(st.Messages)-history:]
		}
		s.Mark("messages")
		return ctx.Scroll("#messages", true)
	case "presence":
		st.Members = p.dir.Members(st.Room)
		s.Mark("members")
	}
	return nil
}

// Terminate takes the session out of its room when it ends (its browser did not
// come back within the grace period, or the server stops).
func (p *RoomPage) Terminate(ctx *live.Ctx, s *live.Session[RoomState], reason string) {
	room := ctx.Param("room")
	p.dir.Leave(room, s.ID)
	_ = p.presenceChanged(ctx, room)
}

func (p *RoomPage) presenceChanged(ctx *live.Ctx, room string) error {
	if err := ctx.Publish(roomTopic(room), notice{Kind: "presence"}); err != nil {
		return err
	}
	return ctx.Publish(roomsTopic, notice{Kind: "rooms"})
}

func refuse(s *live.Session[RoomState], msg, draft string) {
	s.State.Error, s.State.Draft = msg, draft
	s.Mark("composer")
}

// LobbyState is the list of rooms and the join form.
type LobbyState struct {
	Rooms []RoomInfo `json:"rooms"`
	Draft string     `json:"draft"`
	Error string     `json:"error"`
}

// LobbyPage lists the rooms with how many are in each, and opens any room.
type LobbyPage struct{ dir *Directory }

func (p *LobbyPage) View() live.View {
	return live.View{Page: "chat/lobby", Regions: map[string]string{
		"rooms": "chat/rooms", "join-error": "chat/join_error",
	}}
}

func (p *LobbyPage) Mount(ctx *live.Ctx, s *live.Session[LobbyState]) error {
	s.State = LobbyState{Rooms: p.dir.Rooms()}
	return ctx.Subscribe(roomsTopic)
}

func (p *LobbyPage) Handle(ctx *live.Ctx, s *live.Session[LobbyState], e live.Event) error {
	if e.Name != "join" {
		return fmt.Errorf("unknown event %q", e.Name)
	}
	room := slug(e.Text("room"))
	if room == "" {
		s.State.Error = "Name a room: letters, digits and dashes."
		s.State.Draft = e.Text("room")
		s.Mark("join-error")
		return nil
	}
	// A full load: it also ends a no-JS post with a 303 to the room.
	return ctx.Redirect("/rooms/" + room)
}

func (p *LobbyPage) Info(ctx *live.Ctx, s *live.Session[LobbyState], msg live.Message) error {
	s.State.Rooms = p.dir.Rooms()
	s.Mark("rooms")
	return nil
}

// Register adds the chat's pages to lv: the lobby at /rooms (and at extra
// routes, such as "/"), the rooms at /rooms/{room}.
func Register(lv *live.App, dir *Directory, lobbyRoutes ...string) error {
	lobby := &LobbyPage{dir: dir}
	for _, route := range append([]string{"/rooms"}, lobbyRoutes...) {
		if err := live.Register(lv, route, lobby); err != nil {
			return err
		}
	}
	return live.Register(lv, "/rooms/{room}", &RoomPage{dir: dir})
}
