using Convnet.Data;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>
/// Files that are valid but not written the way <see cref="KaggleCsv"/> writes them: train and
/// predict accept them and give exactly what the plain file gives.
/// </summary>
public sealed class CliUnusualInputTests(TrainedModelFixture trained) : IClassFixture<TrainedModelFixture>
{
    private static readonly Dictionary<string, Func<string, IEnumerable<IEnumerable<string>>, string>> Variants = new()
    {
        ["CRLF"] = (header, rows) => CsvSamples.Text(header, rows, newline: "\r\n"),
        ["UTF-8 BOM"] = (header, rows) => "\uFEFF" + CsvSamples.Text(header, rows),
        ["quoted numbers"] = (header, rows) => CsvSamples.Text(Quote(header.Split(',')), rows.Select(r => Quote(r).Split(','))),
        ["no final newline"] = (header, rows) => CsvSamples.Text(header, rows, finalNewline: false),
        ["all of them"] = (header, rows) => "\uFEFF" + CsvSamples.Text(Quote(header.Split(',')), rows.Select(r => Quote(r).Split(',')), newline: "\r\n", finalNewline: false),
    };

    public static TheoryData<string> VariantNames => [.. Variants.Keys];

    [Theory]
    [MemberData(nameof(VariantNames))]
    public void Train_accepts_the_variant_and_writes_the_same_model(string variant)
    {
        using var dir = new TempDir();
        var data = CliHarness.Digits();
        string plain = Write(dir, "plain", CsvSamples.Text(CsvSamples.LabelledHeader, CsvSamples.Rows(data, labelled: true)));
        string unusual = Write(dir, "unusual", Variants[variant](CsvSamples.LabelledHeader, CsvSamples.Rows(data, labelled: true)));

        CliHarness.Succeeds(["train", plain, "--model", dir.File("plain.safetensors"), .. CliHarness.TinyTraining]);
        var result = CliHarness.Succeeds(["train", unusual, "--model", dir.File("unusual.safetensors"), .. CliHarness.TinyTraining]);

        Assert.Contains("Read 60 images", result.Out);
        // Same images, labels, seed and file name: the same model, byte for byte.
        CliHarness.AssertSameModel(dir.File("plain.safetensors"), dir.File("unusual.safetensors"));
    }

    [Theory]
    [MemberData(nameof(VariantNames))]
    public void Predict_accepts_the_variant_and_writes_the_same_submission(string variant)
    {
        using var dir = new TempDir();
        var data = CliHarness.Digits(count: 30, seed: 11);
        string plain = Write(dir, "plain", CsvSamples.Text(CsvSamples.UnlabelledHeader, CsvSamples.Rows(data, labelled: false)));
        string unusual = Write(dir, "unusual", Variants[variant](CsvSamples.UnlabelledHeader, CsvSamples.Rows(data, labelled: false)));

        CliHarness.Succeeds("predict", plain, "--model", trained.Path, "--out", dir.File("plain.csv"));
        var result = CliHarness.Succeeds("predict", unusual, "--model", trained.Path, "--out", dir.File("unusual.csv"));

        Assert.Contains("Wrote 30 predictions", result.Out);
        Assert.Equal(File.ReadAllBytes(dir.File("plain.csv")), File.ReadAllBytes(dir.File("unusual.csv")));
    }

    [Fact]
    public void Predict_on_a_labelled_file_ignores_the_labels()
    {
        using var dir = new TempDir();
        var data = CliHarness.Digits(count: 30, seed: 11);
        string unlabelled = Write(dir, "test", CsvSamples.Text(CsvSamples.UnlabelledHeader, CsvSamples.Rows(data, labelled: false)));
        string labelled = Write(dir, "labelled", CsvSamples.Text(CsvSamples.LabelledHeader, CsvSamples.Rows(data, labelled: true)));
        // The same images with every label changed: the predictions must not move.
        var relabelled = CsvSamples.Rows(data, labelled: true);
        relabelled.ForEach(r => r[0] = ((int.Parse(r[0]) + 3) % 10).ToString());
        string wrongLabels = Write(dir, "wrong-labels", CsvSamples.Text(CsvSamples.LabelledHeader, relabelled));

        CliHarness.Succeeds("predict", unlabelled, "--model", trained.Path, "--out", dir.File("from-test.csv"));
        CliHarness.Succeeds("predict", labelled, "--model", trained.Path, "--out", dir.File("from-labelled.csv"));
        CliHarness.Succeeds("predict", wrongLabels, "--model", trained.Path, "--out", dir.File("from-wrong-labels.csv"));

        byte[] expected = File.ReadAllBytes(dir.File("from-test.csv"));
        Assert.Equal(expected, File.ReadAllBytes(dir.File("from-labelled.csv")));
        Assert.Equal(expected, File.ReadAllBytes(dir.File("from-wrong-labels.csv")));
        Assert.Equal(30, KaggleCsv.ReadLabels(dir.File("from-labelled.csv")).Length);
    }

    /// <summary>Writes dir/name/data.csv: the same file name, so the model's train_file metadata matches.</summary>
    private static string Write(TempDir dir, string name, string text)
    {
        string folder = Directory.CreateDirectory(dir.File(name)).FullName;
        string path = Path.Combine(folder, "data.csv");
        File.WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));
        return path;
    }

    private static string Quote(IEnumerable<string> fields) => string.Join(',', fields.Select(f => $"\"{f}\""));
}
