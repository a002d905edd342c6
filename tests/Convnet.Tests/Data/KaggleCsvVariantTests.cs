using System.Text;
using Convnet.Data;
using Xunit;

namespace Convnet.Tests.Data;

/// <summary>Files that are unusual but valid: each must read exactly as the plain LF version.</summary>
public sealed class KaggleCsvVariantTests
{
    private static readonly Dataset Expected = CsvSamples.RandomDataset(4, 11);

    private static string Plain(string newline = "\n", bool finalNewline = true, Func<string, string>? field = null) =>
        CsvSamples.Text(
            CsvSamples.LabelledHeader,
            CsvSamples.Rows(Expected, labelled: true).Select(r => r.Select(field ?? (f => f))),
            newline,
            finalNewline);

    public static TheoryData<string> Names => [.. Variants.Keys];

    private static readonly Dictionary<string, byte[]> Variants = new()
    {
        ["LF"] = Encoding.UTF8.GetBytes(Plain()),
        ["CRLF"] = Encoding.UTF8.GetBytes(Plain("\r\n")),
        ["UTF-8 byte order mark"] = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Plain())],
        ["quoted numbers"] = Encoding.UTF8.GetBytes(Plain(field: f => $"\"{f}\"")),
        ["quoted header"] = Encoding.UTF8.GetBytes("\"label\"" + Plain()[5..]),
        ["no final newline"] = Encoding.UTF8.GetBytes(Plain(finalNewline: false)),
        ["no final CRLF"] = Encoding.UTF8.GetBytes(Plain("\r\n", finalNewline: false)),
        ["trailing blank line"] = Encoding.UTF8.GetBytes(Plain() + "\n"),
        ["trailing blank lines CRLF"] = Encoding.UTF8.GetBytes(Plain("\r\n") + "\r\n\r\n"),
        ["leading zeros"] = Encoding.UTF8.GetBytes(Plain(field: f => "0" + f)),
        ["UTF-16 with byte order mark"] = [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(Plain())],
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Valid_variants_read_as_the_plain_file(string name)
    {
        using var dir = new TempDir();
        string path = dir.Write("variant.csv", Variants[name]);

        var data = KaggleCsv.ReadLabelled(path);

        Assert.Equal(Expected.Pixels, data.Pixels);
        Assert.Equal(Expected.Labels, data.Labels);
    }

    [Fact]
    public void Labels_files_accept_crlf_bom_and_quotes()
    {
        using var dir = new TempDir();
        string path = dir.Write("labels.csv", [0xEF, 0xBB, 0xBF, .. "\"ImageId\",\"Label\"\r\n\"1\",\"7\"\r\n2,3\r\n\r\n"u8.ToArray()]);

        Assert.Equal([7, 3], KaggleCsv.ReadLabels(path));
    }
}
