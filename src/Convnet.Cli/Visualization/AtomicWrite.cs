using System.Text;

namespace Convnet.Cli.Visualization;

/// <summary>
/// Writes a whole file under a temporary name next to its destination, flushes it to disk and
/// renames it over the destination: a crash leaves the old file or the new one, never half of one.
/// </summary>
internal static class AtomicWrite
{
    public static void Bytes(string path, ReadOnlySpan<byte> bytes)
    {
        string temporary = $"{path}.tmp-{Random.Shared.Next():x8}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    public static void Text(string path, string text) => Bytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original exception is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
