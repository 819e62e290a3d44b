// JSchExec runs one command over SSH with JSch (Debian's libjsch-java, the
// 0.1.x line) and exits with the command's exit status, or 255 when the
// connection or the login fails, as ssh does. TestOtherClients compiles it
// with javac at test time.
//
// Usage: java -cp DIR:jsch.jar JSchExec HOST PORT PRIVATE_KEY KNOWN_HOSTS COMMAND
// (PRIVATE_KEY in PEM form: JSch 0.1.x cannot read OpenSSH's own format.)
import com.jcraft.jsch.ChannelExec;
import com.jcraft.jsch.JSch;
import com.jcraft.jsch.JSchException;
import com.jcraft.jsch.Session;
import java.io.InputStream;

public class JSchExec {
    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: JSchExec HOST PORT PRIVATE_KEY KNOWN_HOSTS COMMAND");
            System.exit(2);
        }
        JSch jsch = new JSch();
        Session session;
        try {
            jsch.addIdentity(args[2]);
            jsch.setKnownHosts(args[3]);
            session = jsch.getSession("dokku", args[0], Integer.parseInt(args[1]));
            session.setConfig("StrictHostKeyChecking", "yes");
            session.connect(15000);
        } catch (JSchException e) {
            System.err.println("jsch: " + e.getMessage());
            System.exit(255);
            return;
        }
        ChannelExec channel = (ChannelExec) session.openChannel("exec");
        channel.setCommand(args[4]);
        channel.setInputStream(null);
        channel.setErrStream(System.err);
        InputStream out = channel.getInputStream();
        channel.connect(15000);
        byte[] buf = new byte[8192];
        for (int n; (n = out.read(buf)) >= 0; ) {
            System.out.write(buf, 0, n);
        }
        System.out.flush();
        // The exit status arrives before the channel closes.
        while (!channel.isClosed()) {
            Thread.sleep(10);
        }
        int status = channel.getExitStatus();
        channel.disconnect();
        session.disconnect();
        System.exit(status);
    }
}
