using System.Net;
using System.Text.RegularExpressions;

namespace Thaw.Runtimes.Packages;

/// <summary>
/// A pip index (PEP 503 "simple" API) as the install cache's second source: thawd lists a
/// package's wheels from its page (versions from the file names) and downloads only the wheel the
/// resolver picks, into a download dir, where its metadata is read like a wheelhouse's. The
/// installer sandbox then installs from that file, offline: only thawd talks to the index.
/// </summary>
public sealed partial class SimpleIndex(string url, string downloads, HttpClient http)
{
    private readonly string _url = url.TrimEnd('/') + "/";

    public static bool IsRemote(string path) => path.StartsWith("http://", StringComparison.Ordinal) || path.StartsWith("https://", StringComparison.Ordinal);

    /// <summary>The wheels the index lists for <paramref name="key"/> (requirements unknown until downloaded).</summary>
    public IReadOnlyList<Distribution> List(string key)
    {
        var page = new Uri(new Uri(_url), key + "/");
        string html;
        try
        {
            html = http.GetStringAsync(page).GetAwaiter().GetResult();
        }
        catch (HttpRequestException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }
        catch (HttpRequestException e)
        {
            throw new PackageResolutionException($"package index {_url} could not be read for {key}: {e.Message}");
        }
        var found = new List<Distribution>();
        foreach (Match link in Link().Matches(html))
        {
            var href = new Uri(page, WebUtility.HtmlDecode(link.Groups["href"].Value).Split('#')[0]);
            string file = Path.GetFileName(href.AbsolutePath);
            var name = WheelName().Match(file);
            if (name.Success && Requirement.Normalize(name.Groups["dist"].Value) == key)
                found.Add(new Distribution(name.Groups["dist"].Value, name.Groups["version"].Value, [], href.ToString()));
        }
        return found;
    }

    /// <summary>Downloads a wheel once into the download dir; returns its local path.</summary>
    public string Download(string url)
    {
        Directory.CreateDirectory(downloads);
        string path = Path.Combine(downloads, Path.GetFileName(new Uri(url).AbsolutePath));
        if (File.Exists(path))
            return path;
        string partial = path + ".part";
        try
        {
            using (var body = http.GetStreamAsync(url).GetAwaiter().GetResult())
            using (var file = File.Create(partial))
                body.CopyTo(file);
            File.Move(partial, path, overwrite: true);
        }
        catch (HttpRequestException e)
        {
            File.Delete(partial);
            throw new PackageResolutionException($"downloading {url} failed: {e.Message}");
        }
        return path;
    }

    [GeneratedRegex(@"<a\s[^>]*href=""(?<href>[^""]+)""", RegexOptions.IgnoreCase)]
    private static partial Regex Link();

    [GeneratedRegex(@"^(?<dist>[A-Za-z0-9_.]+)-(?<version>[A-Za-z0-9_.+!]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")]
    private static partial Regex WheelName();
}
