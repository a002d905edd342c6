using System.Text;
using Convnet.Data;
using Xunit;
using Xunit.Abstractions;

namespace Convnet.Tests.Data;

/// <summary>A corpus of bad files: each must give a <see cref="DataFormatException"/> that says what and where.</summary>
public sealed class KaggleCsvMalformedTests(ITestOutputHelper output)
{
    /// <param name="Make">Writes the file into the folder and returns its path.</param>
    /// <param name="Parts">Text the message must contain.</param>
    private sealed record Case(Func<TempDir, string> Make, bool RequireLabels, int Line, int Column, string? ColumnName, params string[] Parts);

    // Row 1 (0-based) of a sample file is line 3; field 301 is column 302, named pixel300.
    private static readonly Dictionary<string, Case> ImageCases = new()
    {
        ["empty file"] = new(Text(""), true, 0, 0, null, "file is empty"),
        ["only a line break"] = new(Text("\r\n"), true, 0, 0, null, "file is empty", "no header line"),
        ["only a byte order mark"] = new(Bytes([0xEF, 0xBB, 0xBF]), true, 0, 0, null, "no header line"),
        ["header only"] = new(Text(CsvSamples.LabelledHeader + "\n"), true, 0, 0, null, "has a header but no rows"),
        ["wrong header"] = new(Text("a,b,c\n1,2,3\n"), true, 1, 1, "label", "header starts with 'a'", "expected 'label'"),
        ["no header line"] = new(Text(CsvSamples.Labelled()[(CsvSamples.LabelledHeader.Length + 1)..]), false, 1, 1, null, "no header line?"),
        ["wrong column name at position k"] = new(Text(CsvSamples.Labelled().Replace(",pixel300,", ",pixel3OO,")), true, 1, 302, "pixel300", "'pixel3OO'", "expected 'pixel300'"),
        ["header missing the last column"] = new(Text(CsvSamples.Labelled().Replace(",pixel783\n", "\n")), true, 1, 0, null, "header has 784 columns, expected 785"),
        ["short row"] = new(Rows(r => r[1].RemoveRange(700, 85)), true, 3, 701, "pixel699", "row ends after 700 fields, expected 785"),
        ["long row"] = new(Rows(r => r[1].Add("0")), true, 3, 786, null, "row has 786 fields, expected 785"),
        ["non-numeric pixel"] = new(Pixel("abc"), true, 3, 302, "pixel300", "'abc' is not an integer"),
        ["negative pixel"] = new(Pixel("-1"), true, 3, 302, "pixel300", "'-1' is out of range 0-255"),
        ["pixel 256"] = new(Pixel("256"), true, 3, 302, "pixel300", "'256' is out of range 0-255"),
        ["huge pixel"] = new(Pixel("99999999999999999999999"), true, 3, 302, "pixel300", "is out of range 0-255"),
        ["decimal pixel"] = new(Pixel("1.5"), true, 3, 302, "pixel300", "'1.5' is not an integer"),
        ["exponent pixel"] = new(Pixel("1e2"), true, 3, 302, "pixel300", "'1e2' is not an integer"),
        ["empty field"] = new(Pixel(""), true, 3, 302, "pixel300", "empty field"),
        ["pixel with a space"] = new(Pixel(" 5"), true, 3, 302, "pixel300", "' 5' is not an integer"),
        ["pixel with a plus sign"] = new(Pixel("+5"), true, 3, 302, "pixel300", "'+5' has a sign"),
        // Labels 10-255 and text labels are classes now (KaggleCsvClassNameTests); an empty one is not.
        ["empty label"] = new(Rows(r => r[1][0] = ""), true, 3, 1, "label", "empty label"),
        ["257 distinct labels"] = new(Rows(r => { for (int i = 0; i < r.Count; i++) { r[i][0] = $"class{i}"; } }, count: 300), true, 0, 0, null, "300 distinct labels", "at most 256 classes", "'class256' on line 258"),
        ["non-square pixel count"] = new(Text("label,pixel0,pixel1\n1,2,3\n"), true, 1, 0, null, "header has 3 columns", "2 pixel columns do not make a square image"),
        ["more pixel columns than a 512x512 image"] = new(Text(string.Join(',', Enumerable.Range(0, 512 * 512 + 1).Select(i => $"pixel{i}")) + "\n1\n"), false, 1, 0, null, "262,145 pixel columns", "512×512"),
        ["truncated file"] = new(Text(CsvSamples.Labelled(edit: r => r[2].RemoveRange(404, 381))[..^1]), true, 4, 405, "pixel403", "row ends after 404 fields, expected 785 (is the file truncated?)"),
        ["binary garbage starting with NUL"] = new(Bytes([0, .. RandomBytes(5000, 1)]), true, 1, 0, null, "not a text CSV file", "0x00"),
        ["binary garbage with invalid UTF-8"] = new(Bytes([0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, .. RandomBytes(5000, 2)]), true, 1, 0, null, "not a UTF-8 text file", "0x89"),
        ["gzipped CSV"] = new(Bytes([0x1F, 0x8B, 8, 0, .. RandomBytes(100, 3)]), true, 0, 0, null, "is gzip-compressed", "decompress it first"),
        ["zip archive"] = new(Bytes([.. "PK"u8, 3, 4, .. RandomBytes(100, 4)]), true, 0, 0, null, "is a zip archive", "extract it first"),
        ["NUL past the first 64 KB"] = new(Rows(r => r[50][301] = "\0", count: 60), true, 52, 302, "pixel300", "binary data (byte 0x00)"),
        ["unterminated quote"] = new(Pixel("\"12"), true, 3, 0, null, "malformed CSV"),
        ["test file where labels are required"] = new(Text(CsvSamples.Unlabelled()), true, 1, 1, "label", "the 'label' column is missing", "labels are required"),
        ["submission given as images"] = new(Text("ImageId,Label\n1,2\n"), false, 1, 1, null, "ImageId,Label file", "not an image file"),
        ["missing file"] = new(d => d.File("nope.csv"), true, 0, 0, null, "file not found"),
        ["a directory"] = new(d => d.Path, true, 0, 0, null, "is a directory"),
    };

    private static readonly Dictionary<string, Case> LabelCases = new()
    {
        ["ImageIds out of order"] = new(Text("ImageId,Label\n1,3\n3,4\n"), false, 3, 1, "ImageId", "ImageId 3 is out of order, expected 2"),
        ["ImageIds from 0"] = new(Text("ImageId,Label\n0,3\n"), false, 2, 1, "ImageId", "ImageId 0 is out of order, expected 1"),
        ["label 10"] = new(Text("ImageId,Label\n1,10\n"), false, 2, 2, "Label", "'10' is out of range 0-9"),
        ["empty label"] = new(Text("ImageId,Label\r\n1,\r\n"), false, 2, 2, "Label", "empty field"),
        ["wrong header"] = new(Text("Id,Label\n1,2\n"), false, 1, 1, "ImageId", "'Id'", "expected 'ImageId'"),
        ["extra header column"] = new(Text("ImageId,Label,Score\n1,2,3\n"), false, 1, 0, null, "header has 3 columns, expected 2"),
        ["image file given"] = new(Text(CsvSamples.Labelled()), false, 1, 1, "ImageId", "this is an image file"),
        ["header only"] = new(Text("ImageId,Label\n"), false, 0, 0, null, "has a header but no rows"),
        ["short row"] = new(Text("ImageId,Label\n1,2\n2\n"), false, 3, 2, "Label", "row has 1 field, expected 2"),
        ["long row"] = new(Text("ImageId,Label\n1,2,3\n"), false, 2, 3, null, "row has 3 fields, expected 2"),
        ["empty file"] = new(Text(""), false, 0, 0, null, "file is empty"),
        ["missing file"] = new(d => d.File("nope.csv"), false, 0, 0, null, "file not found"),
    };

    public static TheoryData<string> ImageCaseNames => [.. ImageCases.Keys];
    public static TheoryData<string> LabelCaseNames => [.. LabelCases.Keys];

    [Fact]
    public void The_corpus_is_large_enough() => Assert.True(ImageCases.Count >= 15);

    [Theory]
    [MemberData(nameof(ImageCaseNames))]
    public void Bad_image_files_are_rejected_with_their_location(string name)
    {
        var c = ImageCases[name];
        using var dir = new TempDir();
        string path = c.Make(dir);

        var e = Assert.Throws<DataFormatException>(() => c.RequireLabels ? KaggleCsv.ReadLabelled(path) : KaggleCsv.Read(path));

        AssertMatches(c, path, e);
    }

    [Theory]
    [MemberData(nameof(LabelCaseNames))]
    public void Bad_label_files_are_rejected_with_their_location(string name)
    {
        var c = LabelCases[name];
        using var dir = new TempDir();
        string path = c.Make(dir);

        var e = Assert.Throws<DataFormatException>(() => KaggleCsv.ReadLabels(path));

        AssertMatches(c, path, e);
    }

    [Fact]
    public void The_message_has_the_documented_form()
    {
        using var dir = new TempDir();
        string path = Pixel("256")(dir);

        var e = Assert.Throws<DataFormatException>(() => KaggleCsv.ReadLabelled(path));

        Assert.Equal($"{path}: line 3, column 302 (pixel300): '256' is out of range 0-255", e.Message);
        Assert.Equal("'256' is out of range 0-255", e.Problem);
    }

    [Fact]
    public void Line_numbers_count_blank_lines_and_the_header()
    {
        using var dir = new TempDir();
        var rows = CsvSamples.Rows(CsvSamples.RandomDataset(3, 1), labelled: true);
        rows[2][5] = "x";
        string text = CsvSamples.Text(CsvSamples.LabelledHeader, rows).Replace("\n", "\r\n");
        int secondBreak = text.IndexOf("\r\n", text.IndexOf("\r\n", StringComparison.Ordinal) + 2, StringComparison.Ordinal);
        string path = dir.Write("blank.csv", text.Insert(secondBreak, "\r\n\r\n"));

        var e = Assert.Throws<DataFormatException>(() => KaggleCsv.ReadLabelled(path));

        Assert.Equal(6, e.Line);
        Assert.Equal(6, e.Column);
    }

    [Fact]
    public void Long_values_are_shortened_in_messages()
    {
        using var dir = new TempDir();
        string path = Pixel(new string('x', 5000))(dir);

        var e = Assert.Throws<DataFormatException>(() => KaggleCsv.ReadLabelled(path));

        Assert.Contains("(5000 characters)", e.Message);
        Assert.True(e.Message.Length < 200, e.Message);
    }

    private void AssertMatches(Case c, string path, DataFormatException e)
    {
        output.WriteLine(e.Message);
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ":", e.Message);
        foreach (string part in c.Parts)
        {
            Assert.Contains(part, e.Message);
        }
        Assert.Equal(c.Line, e.Line);
        Assert.Equal(c.Column, e.Column);
        Assert.Equal(c.ColumnName, e.ColumnName);
        if (c.Line > 0)
        {
            Assert.Contains($": line {c.Line}", e.Message);
        }
        if (c.Column > 0)
        {
            Assert.Contains($"column {c.Column}" + (c.ColumnName is null ? "" : $" ({c.ColumnName})"), e.Message);
        }
    }

    private static Func<TempDir, string> Text(string text) => d => d.Write("bad.csv", text);

    private static Func<TempDir, string> Bytes(byte[] bytes) => d => d.Write("bad.csv", bytes);

    private static Func<TempDir, string> Rows(Action<List<List<string>>> edit, int count = 3) =>
        Text(CsvSamples.Labelled(count, seed: 1, edit));

    private static Func<TempDir, string> Pixel(string value) => Rows(r => r[1][301] = value);

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
