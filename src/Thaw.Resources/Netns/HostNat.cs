using System.Diagnostics;
using System.Globalization;

namespace Thaw.Resources.Netns;

/// <summary>
/// Egress for bridge mode: IPv4 forwarding on, and iptables rules that masquerade the bridge subnet
/// and let its traffic through FORWARD (inserted first, so a DROP policy left by Docker does not
/// win). Every rule carries the comment "thaw:&lt;instance&gt;", which is how Disable and the
/// recovery sweep find exactly this instance's rules. Made once per bridge, never per namespace,
/// so exec'ing iptables (whose nft backend has no stable library API) costs nothing on the request path.
/// </summary>
public sealed class HostNat
{
    private const string IpForward = "/proc/sys/net/ipv4/ip_forward";
    private readonly ThawNaming _naming;
    private readonly List<string[]> _rules;

    private HostNat(ThawNaming naming, List<string[]> rules)
    {
        _naming = naming;
        _rules = rules;
    }

    public static HostNat Enable(ThawNaming naming, Ipv4Subnet subnet)
    {
        if (!File.Exists("/usr/sbin/iptables") && !File.Exists("/sbin/iptables"))
            throw new InvalidOperationException("bridge NAT needs iptables; install it (apt-get install iptables) or turn NAT off");
        string tag = Tag(naming);
        string bridge = naming.BridgeName;
        List<string[]> rules =
        [
            ["-t", "nat", "POSTROUTING", "-s", subnet.ToString(), "!", "-o", bridge, "-m", "comment", "--comment", tag, "-j", "MASQUERADE"],
            ["-t", "filter", "FORWARD", "-i", bridge, "!", "-o", bridge, "-m", "comment", "--comment", tag, "-j", "ACCEPT"],
            ["-t", "filter", "FORWARD", "-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-m", "comment", "--comment", tag, "-j", "ACCEPT"],
        ];
        var nat = new HostNat(naming, []);
        try
        {
            foreach (var rule in rules)
            {
                Iptables([rule[0], rule[1], "-I", .. rule[2..]]);
                nat._rules.Add(rule);
            }
            // Remember the host's setting so Disable (or the sweep after a crash) can put it back.
            if (File.ReadAllText(IpForward).Trim() != "1")
            {
                File.WriteAllText(SavedForwardPath(naming), "0");
                File.WriteAllText(IpForward, "1");
            }
            return nat;
        }
        catch
        {
            nat.Disable();
            throw;
        }
    }

    public void Disable()
    {
        foreach (var rule in _rules)
            Iptables([rule[0], rule[1], "-D", .. rule[2..]]);
        _rules.Clear();
        RestoreForwarding(_naming);
    }

    /// <summary>Removes every rule tagged for this instance (left by a crash) and restores forwarding.</summary>
    public static IReadOnlyList<string> Sweep(ThawNaming naming)
    {
        var removed = new List<string>();
        if (!File.Exists("/usr/sbin/iptables") && !File.Exists("/sbin/iptables"))
            return removed;
        foreach (var table in (string[])["nat", "filter"])
        {
            foreach (var line in Iptables(["-t", table, "-S"]).Split('\n'))
            {
                // `-S` prints '-A CHAIN ... --comment "thaw:NAME" ...': delete the same spec, unquoted.
                var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(t => t.Trim('"')).ToArray();
                if (tokens.Length < 2 || tokens[0] != "-A" || !tokens.Contains(Tag(naming)))
                    continue;
                Iptables(["-t", table, "-D", .. tokens[1..]]);
                removed.Add($"iptables -t {table} {line}");
            }
        }
        RestoreForwarding(naming);
        return removed;
    }

    public static string Tag(ThawNaming naming) => "thaw:" + naming.Name;

    private static string SavedForwardPath(ThawNaming naming) => Path.Combine(naming.StateDir, "ip_forward.saved");

    private static void RestoreForwarding(ThawNaming naming)
    {
        string saved = SavedForwardPath(naming);
        if (!File.Exists(saved))
            return;
        File.WriteAllText(IpForward, File.ReadAllText(saved).Trim());
        File.Delete(saved);
    }

    private static string Iptables(string[] args)
    {
        var psi = new ProcessStartInfo("iptables") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-w"); // wait for the xtables lock instead of failing beside another user
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"iptables {string.Join(' ', args)} failed ({p.ExitCode}): {error.Trim()}"));
        return output;
    }
}
