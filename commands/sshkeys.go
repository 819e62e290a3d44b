package commands

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"dokku-sshd/keys"
	"dokku-sshd/output"
)

func sshKeysGroup() *Group {
	return &Group{
		Name:        "ssh-keys",
		Description: "Manage public ssh keys used for deployment",
		Bash:        true,
		Commands: []*Command{
			{Name: "ssh-keys:add", Args: "<name> [/path/to/key]", Help: "Add a new public key by pipe or path", RootOnly: true, Run: sshKeysAdd},
			{Name: "ssh-keys:list", Args: "[--format text|json] [<name>]", Help: "List of all authorized dokku public ssh keys", Run: sshKeysList},
			{Name: "ssh-keys:remove", Args: "[--fingerprint fingerprint|<name>]", Help: "Remove SSH public key by name", RootOnly: true, Run: sshKeysRemove},
		},
	}
}

// checkKeyFile reports a missing, empty or invalid authorized_keys the way
// `sshcommand list` does (bare messages on stderr, exit 1).
func checkKeyFile(e *Call) error {
	path := e.Keys.Path()
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return output.Plainf("authorized_keys not found for dokku")
	case err != nil:
		return err
	case fi.Size() == 0:
		return output.Plainf("authorized_keys is empty for dokku")
	}
	if err := e.Keys.Validate(); err != nil {
		if !output.IsUserError(err) {
			return err
		}
		return output.Plainf("%s", err.Error())
	}
	return nil
}

func sshKeysList(e *Call, args []string) error {
	format, name := "text", ""
	if len(args) > 0 && args[0] == "--format" {
		if len(args) > 1 {
			format = args[1]
		} else {
			format = ""
		}
		if len(args) > 2 {
			name = args[2]
		}
	} else if len(args) > 0 {
		name = args[0]
	}
	if format != "text" && format != "json" {
		return output.Userf("Invalid output format specified, supported formats: json, text")
	}
	if err := checkKeyFile(e); err != nil {
		return err
	}
	all, err := e.Keys.List()
	if err != nil {
		return err
	}
	list := all
	if name != "" {
		list = nil
		for _, k := range all {
			if k.Name == name {
				list = append(list, k)
			}
		}
	}
	if format == "json" {
		e.Println(keys.FormatJSON(list, name != ""))
		return nil
	}
	if name != "" && len(list) == 0 {
		return output.Exit(output.ExitFailure) // grep found nothing, as in sshcommand
	}
	if len(list) == 0 {
		e.Println("") // sshcommand prints one empty line when no key is managed
		return nil
	}
	e.Print(keys.FormatText(list))
	return nil
}

// maxKeyInput bounds what ssh-keys:add reads: one key line is at most a
// few KiB (an RSA 16384 key is under 3 KiB), so more is not one key.
const maxKeyInput = 64 << 10

// readKeyInput reads the key to add from the file argument or stdin, and
// refuses input longer than maxKeyInput rather than cut it.
func readKeyInput(e *Call, args []string) ([]byte, error) {
	var r io.Reader = e.Stdin
	if len(args) > 1 && args[1] != "" {
		f, err := os.Open(args[1])
		if err != nil {
			return nil, output.Userf("Unable to read key file %s: %v", args[1], errors.Unwrap(err))
		}
		defer f.Close()
		r = f
	} else if e.TTY || e.Stdin == nil {
		return nil, output.Userf("%s", keys.ErrNoKey)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxKeyInput+1))
	switch {
	case err != nil && r != e.Stdin:
		return nil, output.Userf("Unable to read key file %s: %v", args[1], errors.Unwrap(err))
	case err != nil:
		return nil, output.Userf("Unable to read the key: %v", err)
	}
	if len(b) > maxKeyInput {
		return nil, output.Userf("Key input is longer than %d bytes: not one public key", maxKeyInput)
	}
	if len(b) == 0 && r == e.Stdin {
		return nil, output.Userf("%s", keys.ErrNoKey)
	}
	return b, nil
}

func sshKeysAdd(e *Call, args []string) error {
	if len(args) == 0 || args[0] == "" {
		return output.Userf("A name is required to add a key, ie: dokku ssh-keys:add <name> [/path/to/key]")
	}
	text, err := readKeyInput(e, args)
	if err != nil {
		return err
	}
	fp, err := e.Keys.Add(args[0], text)
	var sce *keys.SSHCommandError
	switch {
	case errors.As(err, &sce):
		// sshcommand's own line comes first, bare; then Dokku's wrapper line.
		return output.Plainf("%s", sce.Error()+"\n"+prefixWarn+"sshcommand returned an error: 1")
	case err != nil:
		return err
	}
	e.Println(fp)
	return nil
}

func sshKeysRemove(e *Call, args []string) error {
	if err := e.checkKeysForRemove(); err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "--fingerprint" {
		if len(args) < 2 || args[1] == "" {
			return output.Userf("A fingerprint is required to remove a key, ie: dokku ssh-keys:remove --fingerprint FINGERPRINT")
		}
		return e.Keys.RemoveByFingerprint(args[1])
	}
	if len(args) == 0 || args[0] == "" {
		return output.Userf("A name is required to remove a key, ie: dokku ssh-keys:remove <name>")
	}
	return e.Keys.RemoveByName(args[0])
}

// checkKeysForRemove is ssh-keys:remove's check of the whole file first.
func (e *Call) checkKeysForRemove() error {
	fi, err := os.Stat(e.Keys.Path())
	if err != nil || fi.Size() == 0 {
		return output.Userf("No public keys found.")
	}
	if err := e.Keys.Validate(); err != nil {
		return err
	}
	return nil
}
