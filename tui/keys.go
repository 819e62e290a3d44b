package tui

import (
	"encoding/json"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// keysMode is what the keys view is doing.
type keysMode int

const (
	keysList   keysMode = iota // the list, ↑/↓ select
	keysName                   // adding: the name field
	keysKey                    // adding: the key field
	keysRemove                 // "Remove key NAME? y/n"
	keysBusy                   // a command runs
)

// keysMaxKey bounds the key field: one public key line is a few KiB at
// most (ssh-keys:add refuses more than 64 KiB anyway).
const keysMaxKey = 16384

// keysEntry is one key as ssh-keys:list --format json prints it.
type keysEntry struct {
	Fingerprint string `json:"fingerprint"`
	Name        string `json:"name"`
	Options     string `json:"SSHCOMMAND_ALLOWED_KEYS"`
	PublicKey   string `json:"public-key"`
}

// keysScreen lists, adds and removes the SSH keys that may use the host,
// through ssh-keys:list, ssh-keys:add and ssh-keys:remove (admin keys
// only).
type keysScreen struct {
	e       *env
	list    []keysEntry
	loaded  bool
	listErr string
	sel     int
	mode    keysMode
	name    textinput.Model
	pubkey  textinput.Model
	note    string // what the last add or remove printed
	noteBad bool
}

// Messages of the keys view, tagged with it.
type (
	keysListMsg struct {
		s    *keysScreen
		list []keysEntry
		err  string
	}
	keysDoneMsg struct {
		s    *keysScreen
		verb string // "Added", "Removed"
		name string
		r    result
	}
)

// newKeysScreen lists, adds and removes SSH keys (admin keys only).
func newKeysScreen(e *env) Screen {
	s := &keysScreen{e: e, name: actionField(200), pubkey: actionField(keysMaxKey)}
	s.name.Prompt = "Name: "
	s.name.Placeholder = "a name for the key, e.g. laptop"
	s.pubkey.Prompt = "Key:  "
	s.pubkey.Placeholder = "paste the public key (ssh-ed25519 AAAA… comment)"
	return s
}

func (s *keysScreen) Init() tea.Cmd {
	if !s.e.admin {
		return nil
	}
	return s.load()
}

// load reads the list. A host with no authorized_keys yet (or an empty
// one) is an error to ssh-keys:list, and simply no keys here.
func (s *keysScreen) load() tea.Cmd {
	e := s.e
	return func() tea.Msg {
		r := e.b.run(e.ctx, "ssh-keys:list", "--format", "json")
		if r.Code != 0 {
			if strings.Contains(r.Stderr, "authorized_keys not found") || strings.Contains(r.Stderr, "authorized_keys is empty") {
				return keysListMsg{s: s}
			}
			return keysListMsg{s: s, err: errText(r)}
		}
		var list []keysEntry
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
			return keysListMsg{s: s, err: "ssh-keys:list printed something other than JSON: " + err.Error()}
		}
		return keysListMsg{s: s, list: list}
	}
}

// exec runs a key command, then the list is read again.
func (s *keysScreen) exec(verb, name, stdin string, argv ...string) tea.Cmd {
	s.mode = keysBusy
	s.name.Blur()
	s.pubkey.Blur()
	e := s.e
	return func() tea.Msg {
		return keysDoneMsg{s: s, verb: verb, name: name, r: e.b.runStdin(e.ctx, stdin, argv...)}
	}
}

func (s *keysScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case keysListMsg:
		if msg.s != s {
			return s, nil
		}
		s.list, s.listErr, s.loaded = msg.list, msg.err, true
		s.sel = max(min(s.sel, len(s.list)-1), 0)
		return s, nil
	case keysDoneMsg:
		if msg.s != s {
			return s, nil
		}
		s.mode = keysList
		if msg.r.Code != 0 {
			s.note, s.noteBad = errText(msg.r), true
		} else {
			s.note, s.noteBad = strings.TrimSpace(msg.verb+" "+msg.name+" "+strings.TrimSpace(msg.r.Stdout)), false
		}
		return s, s.load()
	case tea.PasteMsg:
		return s, s.updateField(msg)
	case tea.KeyPressMsg:
		if !s.e.admin {
			return s, nil
		}
		return s, s.key(msg)
	}
	return s, nil
}

func (s *keysScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	k := msg.String()
	switch s.mode {
	case keysList:
		switch k {
		case "up", "k":
			s.sel = max(s.sel-1, 0)
		case "down", "j":
			s.sel = max(min(s.sel+1, len(s.list)-1), 0)
		case "a":
			s.mode, s.note = keysName, ""
			s.name.Reset()
			s.pubkey.Reset()
			return s.name.Focus()
		case "x", "delete":
			if len(s.list) > 0 {
				s.mode, s.note = keysRemove, ""
			}
		}
	case keysName:
		switch k {
		case "esc":
			s.mode = keysList
			s.name.Blur()
		case "enter", "tab":
			s.mode = keysKey
			s.name.Blur()
			return s.pubkey.Focus()
		default:
			return s.updateField(msg)
		}
	case keysKey:
		switch k {
		case "esc":
			s.mode = keysList
			s.pubkey.Blur()
		case "shift+tab":
			s.mode = keysName
			s.pubkey.Blur()
			return s.name.Focus()
		case "enter":
			// ssh-keys:add judges the name and the key; the field only
			// turned a pasted line end into a space.
			name := s.name.Value()
			return s.exec("Added", name, strings.TrimSpace(s.pubkey.Value())+"\n", "ssh-keys:add", name)
		default:
			return s.updateField(msg)
		}
	case keysRemove:
		switch k {
		case "y", "Y", "enter":
			// By fingerprint: the row picked, not every key of its name.
			k := s.list[s.sel]
			return s.exec("Removed", k.Name, "", "ssh-keys:remove", "--fingerprint", k.Fingerprint)
		case "n", "N", "esc", "q":
			s.mode = keysList
		}
	}
	return nil
}

// updateField passes msg to the field being edited, if any.
func (s *keysScreen) updateField(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	switch s.mode {
	case keysName:
		s.name, cmd = s.name.Update(msg)
	case keysKey:
		s.pubkey, cmd = s.pubkey.Update(msg)
	}
	return cmd
}

func (s *keysScreen) Title() string { return "keys" }

func (s *keysScreen) Capturing() bool {
	switch s.mode {
	case keysName, keysKey, keysRemove:
		return true
	}
	return false
}

func (s *keysScreen) Keys() []key.Binding {
	if !s.e.admin {
		return nil
	}
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	switch s.mode {
	case keysName:
		return []key.Binding{b("enter/tab", "key field", "enter", "tab"), b("esc", "cancel", "esc")}
	case keysKey:
		return []key.Binding{b("enter", "add", "enter"), b("shift+tab", "name field", "shift+tab"), b("esc", "cancel", "esc")}
	case keysRemove:
		return []key.Binding{b("y/enter", "remove", "y", "enter"), b("n/esc", "cancel", "n", "esc")}
	case keysBusy:
		return nil
	}
	return []key.Binding{b("↑/↓", "select", "up", "down", "k", "j"), b("a", "add", "a"), b("x/del", "remove", "x", "delete")}
}

func (s *keysScreen) View(w, h int) string {
	st := s.e.st
	if !s.e.admin {
		return "\n " + st.bad.Render("This key may not manage SSH keys.") + "\n " +
			"Listing, adding and removing keys needs an admin key."
	}
	// The bottom part (the form, a question, the last result) is drawn
	// first so that a long list scrolls above it and never hides it.
	var foot []string
	switch s.mode {
	case keysName, keysKey:
		s.name.SetWidth(max(w-10, 1))
		s.pubkey.SetWidth(max(w-10, 1))
		foot = append(foot, st.heading.Render("Add a key")+st.dim.Render(" — runs: dokku ssh-keys:add NAME, the key on its input"),
			s.name.View(), s.pubkey.View())
	case keysRemove:
		foot = append(foot, st.heading.Render("Remove key "+s.list[s.sel].Name+"?")+" y/n")
	case keysBusy:
		foot = append(foot, "running…")
	}
	if s.note != "" && s.mode == keysList {
		for _, l := range strings.Split(s.note, "\n") {
			if s.noteBad {
				foot = append(foot, st.bad.Render(l))
			} else {
				foot = append(foot, st.ok.Render(l))
			}
		}
	}

	var lines []string
	switch {
	case !s.loaded:
		lines = append(lines, "Loading keys…")
	case s.listErr != "":
		lines = append(lines, st.bad.Render("ssh-keys:list failed:"))
		lines = append(lines, strings.Split(s.listErr, "\n")...)
	case len(s.list) == 0:
		lines = append(lines, "No keys yet. Press a to add one.")
	default:
		lines = append(lines, s.table(w-1, h-len(foot)-3)...)
	}

	out := []string{""}
	out = append(out, lines...)
	if len(foot) > 0 {
		out = append(out, "")
		out = append(out, foot...)
	}
	for i := range out {
		out[i] = " " + out[i]
	}
	return strings.Join(out, "\n")
}

// table is the key list in at most n lines (a heading, then a window of
// rows around the selected one), w cells wide.
func (s *keysScreen) table(w, n int) []string {
	st := s.e.st
	nameW := 4
	for _, k := range s.list {
		nameW = max(nameW, ansi.StringWidth(k.Name))
	}
	nameW = min(nameW, 24)
	fpW := 11
	for _, k := range s.list {
		fpW = max(fpW, ansi.StringWidth(k.Fingerprint))
	}
	row := func(mark, name, fp, pub string) string {
		return mark + padRight(truncate(name, nameW), nameW) + "  " + padRight(fp, fpW) + "  " + pub
	}
	count := fmt.Sprintf("%d keys may use this host", len(s.list))
	if len(s.list) == 1 {
		count = "1 key may use this host"
	}
	out := []string{count, "", st.heading.Render(truncate(row("  ", "NAME", "FINGERPRINT", "KEY"), w))}
	rows := max(n-3, 1)
	first := max(min(s.sel-rows/2, len(s.list)-rows), 0)
	for i := first; i < len(s.list) && i < first+rows; i++ {
		k := s.list[i]
		// The comment and the type say which key it is (the comment
		// first: it fits at 80 columns); the base64 says nothing to a
		// reader and the fingerprint identifies the key.
		pub := plainLine(k.PublicKey)
		if f := strings.Fields(pub); len(f) >= 2 {
			pub = strings.TrimSpace(strings.Join(f[2:], " ") + "  " + f[0])
		}
		if i == s.sel {
			out = append(out, st.selected.Render(truncate(row("› ", k.Name, k.Fingerprint, pub), w)))
		} else {
			out = append(out, truncate(row("  ", k.Name, k.Fingerprint, pub), w))
		}
	}
	return out
}
