using Convnet.Tests.Data;
using Xunit;
using Xunit.Abstractions;

namespace Convnet.Tests.Cli;

/// <summary>
/// Bad files and bad options through the command line: each must exit 1 with one
/// <c>error: ...</c> line that names the problem (and the line of a bad row), no stack trace,
/// and no model or submission written — an existing one at that path stays byte-identical.
/// </summary>
public sealed class CliMalformedInputTests(TrainedModelFixture trained, ITestOutputHelper output) : IClassFixture<TrainedModelFixture>
{
    /// <summary>The files one case may use; outputs go to <see cref="Out"/>, which must not change.</summary>
    private sealed class Inputs(TempDir dir, string goodModel)
    {
        public string Out { get; } = Directory.CreateDirectory(dir.File("out")).FullName;
        public string OutModel => Path.Combine(Out, "model.safetensors");
        public string OutSubmission => Path.Combine(Out, "submission.csv");
        public string GoodModel => goodModel;
        public TempDir Dir => dir;

        public string Text(string text) => dir.Write("bad.csv", text);

        public string Bytes(byte[] bytes) => dir.Write("bad.bin", bytes);

        public string Labelled => File.Exists(dir.File("labelled.csv")) ? dir.File("labelled.csv") : CliHarness.WriteDigits(dir, "labelled.csv");

        public string Unlabelled => File.Exists(dir.File("test.csv")) ? dir.File("test.csv") : CliHarness.WriteDigits(dir, "test.csv", labelled: false);

        public string ModelBytes(Func<byte[], byte[]> edit) => dir.Write("bad.safetensors", edit(File.ReadAllBytes(goodModel)));

        public string[] Train(string csv, params string[] options) => ["train", csv, "--model", OutModel, .. CliHarness.Tiny(options)];

        public string[] Predict(string csv, string? model = null, params string[] extra) => ["predict", csv, "--model", model ?? goodModel, "--out", OutSubmission, .. extra];
    }

    /// <param name="Args">Writes the case's files and returns the command line.</param>
    /// <param name="Line">The CSV line the message must name, or 0.</param>
    /// <param name="Parts">Text the error message must contain.</param>
    private sealed record Case(Func<Inputs, string[]> Args, int Line, params string[] Parts);

    /// <summary>Bad image CSVs; each is given to both train and predict.</summary>
    private static readonly Dictionary<string, (Func<Inputs, string> Make, int Line, string[] Parts)> BadCsvs = new()
    {
        ["empty file"] = (i => i.Text(""), 0, ["file is empty"]),
        ["header only"] = (i => i.Text(CsvSamples.LabelledHeader + "\n"), 0, ["has a header but no rows"]),
        ["wrong header"] = (i => i.Text("a,b,c\n1,2,3\n"), 1, ["header starts with 'a'"]),
        ["short row"] = (Rows(r => r[1].RemoveRange(700, 85)), 3, ["row ends after 700 fields, expected 785"]),
        ["long row"] = (Rows(r => r[1].Add("0")), 3, ["row has 786 fields, expected 785"]),
        ["non-numeric pixel"] = (Pixel("abc"), 3, ["column 302 (pixel300)", "'abc' is not an integer"]),
        ["pixel 256"] = (Pixel("256"), 3, ["column 302 (pixel300)", "'256' is out of range 0-255"]),
        ["pixel -1"] = (Pixel("-1"), 3, ["column 302 (pixel300)", "'-1' is out of range 0-255"]),
        ["empty label"] = (Rows(r => r[1][0] = ""), 3, ["(label)", "empty label"]),
        ["non-square pixel count"] = (i => i.Text("label,pixel0,pixel1\n1,2,3\n"), 1, ["header has 3 columns"]),
        ["truncated mid-row"] = (i => i.Text(CutInLastRow(CsvSamples.Labelled(count: 3))), 4, ["row ends after 404 fields", "is the file truncated?"]),
        ["binary garbage"] = (i => i.Bytes([0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, .. RandomBytes(4000, 1)]), 1, ["not a UTF-8 text file"]),
        ["NUL bytes"] = (i => i.Bytes([0, 0, 0, .. RandomBytes(4000, 2)]), 1, ["not a text CSV file"]),
        ["submission instead of images"] = (i => i.Text("ImageId,Label\n1,2\n"), 1, ["ImageId,Label file", "not an image file"]),
        ["missing file"] = (i => i.Dir.File("nope.csv"), 0, ["nope.csv", "file not found"]),
    };

    private static readonly Dictionary<string, Case> Cases = BuildCases();

    private static Dictionary<string, Case> BuildCases()
    {
        var cases = new Dictionary<string, Case>();
        foreach (var (name, (make, line, parts)) in BadCsvs)
        {
            cases[$"train: {name}"] = new(i => i.Train(make(i)), line, parts);
            cases[$"predict: {name}"] = new(i => i.Predict(make(i)), line, parts);
        }

        cases["train: test CSV without a label column"] = new(i => i.Train(i.Unlabelled), 1, ["the 'label' column is missing", "labels are required"]);

        // Model files that are not models, for every command that reads one.
        var badModels = new Dictionary<string, (Func<Inputs, string> Make, string[] Parts)>
        {
            ["missing model"] = (i => i.Dir.File("nope.safetensors"), ["model", "nope.safetensors", "not found"]),
            ["random bytes"] = (i => i.Bytes(RandomBytes(5000, 3)), ["bad.bin", "not a safetensors file"]),
            ["empty model"] = (i => i.Bytes([]), ["not a safetensors file", "too short"]),
            ["CSV as model"] = (i => i.Labelled, ["labelled.csv", "not a safetensors file"]),
            ["truncated model"] = (i => i.ModelBytes(b => b[..(b.Length / 2)]), ["bad.safetensors", "has data_offsets", "beyond the", "bytes of data"]),
            ["model cut inside its header"] = (i => i.ModelBytes(b => b[..100]), ["bad.safetensors", "not a safetensors file", "exceeds file size 100"]),
            ["model with a flipped data byte"] = (i => i.ModelBytes(b => { b[^100] ^= 0x40; return b; }), ["bad.safetensors", "checksum mismatch"]),
        };
        foreach (var (name, (make, parts)) in badModels)
        {
            cases[$"predict: {name}"] = new(i => i.Predict(i.Unlabelled, make(i)), 0, parts);
            cases[$"predict --image: {name}"] = new(i => ["predict", "--image", CliImages.WriteDigitPng(i.Dir, "one.png", '1', whiteOnBlack: true), "--model", make(i)], 0, parts);
            cases[$"evaluate: {name}"] = new(i => ["evaluate", i.Labelled, "--model", make(i)], 0, parts);
            cases[$"summary: {name}"] = new(i => ["summary", "--model", make(i)], 0, parts);
        }

        // Options out of range.
        cases["train --epochs 0"] = new(i => i.Train(i.Labelled, "--epochs", "0"), 0, ["--epochs must be at least 1, got 0"]);
        cases["train --batch-size 0"] = new(i => i.Train(i.Labelled, "--batch-size", "0"), 0, ["--batch-size must be at least 1, got 0"]);
        cases["train --lr -1"] = new(i => i.Train(i.Labelled, "--lr", "-1"), 0, ["--lr must be positive, got -1"]);
        cases["train --lr 0"] = new(i => i.Train(i.Labelled, "--lr", "0"), 0, ["--lr must be positive, got 0"]);
        cases["train --lr NaN"] = new(i => i.Train(i.Labelled, "--lr", "NaN"), 0, ["--lr must be positive, got NaN"]);
        cases["train --validation-split 1.5"] = new(i => i.Train(i.Labelled, "--validation-split", "1.5"), 0, ["--validation-split must be in [0, 1), got 1.5"]);
        cases["train --validation-split 1"] = new(i => i.Train(i.Labelled, "--validation-split", "1"), 0, ["--validation-split must be in [0, 1), got 1"]);
        cases["train --validation-split -0.1"] = new(i => i.Train(i.Labelled, "--validation-split", "-0.1"), 0, ["--validation-split must be in [0, 1), got -0.1"]);
        cases["train --validation-split too small for 60 rows"] = new(i => i.Train(i.Labelled, "--validation-split", "0.01"), 0, ["--validation-split 0.01", "leaves one side empty"]);
        cases["train --ensemble 0"] = new(i => i.Train(i.Labelled, "--ensemble", "0"), 0, ["--ensemble must be at least 1, got 0"]);
        cases["train --ensemble -2"] = new(i => i.Train(i.Labelled, "--ensemble", "-2"), 0, ["--ensemble must be at least 1, got -2"]);
        cases["train --parallel-members -1"] = new(i => i.Train(i.Labelled, "--ensemble", "2", "--parallel-members", "-1"), 0, ["--parallel-members must be 0 (one member per thread) or positive, got -1"]);
        cases["train --ensemble 2 --checkpoint"] = new(i => i.Train(i.Labelled, "--ensemble", "2", "--checkpoint", Path.Combine(i.Out, "best.safetensors")), 0, ["--checkpoint", "cannot be combined with --ensemble 2"]);
        cases["train --threads -1"] = new(i => i.Train(i.Labelled, "--threads", "-1"), 0, ["--threads must be 0 (one per core) or positive, got -1"]);
        cases["train unknown --arch"] = new(i => i.Train(i.Labelled, "--arch", "resnet"), 0, ["unknown --arch 'resnet'", "known: simple, general, strong"]);
        cases["train --model in a missing folder"] = new(i => ["train", i.Labelled, "--model", Path.Combine(i.Out, "no", "such", "m.safetensors"), .. CliHarness.TinyTraining], 0, ["cannot write model", "does not exist"]);
        cases["train --model is a folder"] = new(i => ["train", i.Labelled, "--model", i.Out, .. CliHarness.TinyTraining], 0, ["cannot write model", "it is a folder"]);
        cases["predict --threads -1"] = new(i => i.Predict(i.Unlabelled, null, "--threads", "-1"), 0, ["--threads must be 0 (one per core) or positive, got -1"]);
        cases["predict --out in a missing folder"] = new(i => ["predict", i.Unlabelled, "--model", i.GoodModel, "--out", Path.Combine(i.Out, "no", "sub.csv")], 0, ["cannot write submission", "does not exist"]);
        cases["predict CSV of a different image size"] = new(i => i.Predict(i.Text("pixel0,pixel1\n1,2\n")), 1, ["header has 2 columns, expected 784"]);
        cases["evaluate --threads -1"] = new(i => ["evaluate", i.Labelled, "--model", i.GoodModel, "--threads", "-1"], 0, ["--threads must be 0 (one per core) or positive, got -1"]);
        cases["summary unknown --arch"] = new(i => ["summary", "--arch", "resnet"], 0, ["unknown --arch 'resnet'"]);
        cases["bench --threads -1"] = new(i => ["bench", "--threads", "-1"], 0, ["--threads must be 0 (one per core) or positive, got -1"]);
        cases["bench --batch-size 0"] = new(i => ["bench", "--batch-size", "0", "--threads", "1"], 0, ["--batch-size and --seconds must be positive"]);

        // Evaluate's own combinations of inputs.
        cases["evaluate without inputs"] = new(i => ["evaluate", "--model", i.GoodModel], 0, ["give a labelled CSV or image folder to evaluate"]);
        cases["evaluate unlabelled CSV without --labels"] = new(i => ["evaluate", i.Unlabelled, "--model", i.GoodModel], 0, ["has no label column", "--labels"]);
        cases["evaluate --submission without --labels"] = new(i => ["evaluate", "--submission", i.Text("ImageId,Label\n1,2\n")], 0, ["--submission needs --labels"]);
        cases["evaluate --submission with fewer rows than --labels"] = new(i => ["evaluate", "--submission", i.Text("ImageId,Label\n1,2\n"), "--labels", i.Bytes("ImageId,Label\n1,2\n2,3\n"u8.ToArray())], 0, ["has 1 rows but", "has 2"]);
        cases["evaluate --submission with ImageIds out of order"] = new(i => ["evaluate", "--submission", i.Text("ImageId,Label\n1,2\n3,3\n"), "--labels", i.Bytes("ImageId,Label\n1,2\n2,3\n"u8.ToArray())], 3, ["ImageId 3 is out of order, expected 2"]);
        cases["evaluate --labels with a label 10"] = new(i => ["evaluate", i.Unlabelled, "--model", i.GoodModel, "--labels", i.Text("ImageId,Label\n1,10\n")], 2, ["'10' is out of range 0-9"]);
        cases["evaluate --labels of the wrong length"] = new(i => ["evaluate", i.Unlabelled, "--model", i.GoodModel, "--labels", i.Text("ImageId,Label\n1,1\n")], 0, ["has 60 rows but", "has 1"]);

        // Not images.
        cases["predict --image of a CSV"] = new(i => ["predict", "--image", i.Labelled, "--model", i.GoodModel], 0, ["labelled.csv", "not an image"]);
        cases["predict --image of random bytes"] = new(i => ["predict", "--image", i.Bytes(RandomBytes(3000, 4)), "--model", i.GoodModel], 0, ["bad.bin", "not an image"]);
        cases["predict --image missing"] = new(i => ["predict", "--image", i.Dir.File("nope.png"), "--model", i.GoodModel], 0, ["image", "nope.png", "not found"]);
        return cases;
    }

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Fact]
    public void The_corpus_is_large_enough() => Assert.True(Cases.Count >= 15 && BadCsvs.Count >= 15, $"{Cases.Count} cases, {BadCsvs.Count} bad CSVs");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Bad_input_exits_1_with_one_clear_line_and_writes_nothing(string name)
    {
        var c = Cases[name];
        using var dir = new TempDir();
        var inputs = new Inputs(dir, trained.Path);
        string[] args = c.Args(inputs);

        // First with no model or submission at the output paths: none may appear.
        var fresh = CliHarness.Run(args);
        AssertUserError(c, fresh, verbose: false);
        Assert.Empty(Directory.EnumerateFileSystemEntries(inputs.Out));

        // Then with files already there: they must stay byte for byte as they were.
        var sentinels = new Dictionary<string, byte[]>
        {
            [inputs.OutModel] = [.. "not a model: sentinel "u8, .. RandomBytes(64, 5)],
            [inputs.OutSubmission] = [.. "ImageId,Label\n1,7\n"u8],
        };
        foreach (var (path, bytes) in sentinels)
        {
            File.WriteAllBytes(path, bytes);
        }
        var again = CliHarness.Run(args);
        AssertUserError(c, again, verbose: false);
        Assert.Equal(sentinels.Keys.Order(), Directory.EnumerateFileSystemEntries(inputs.Out).Order());
        foreach (var (path, bytes) in sentinels)
        {
            Assert.Equal(bytes, File.ReadAllBytes(path));
        }
    }

    [Theory]
    [InlineData("train: short row")]
    [InlineData("predict: random bytes")]
    [InlineData("train --epochs 0")]
    public void Verbose_adds_the_stack_trace(string name)
    {
        var c = Cases[name];
        using var dir = new TempDir();
        var inputs = new Inputs(dir, trained.Path);

        var result = CliHarness.Run([.. c.Args(inputs), "--verbose"]);

        AssertUserError(c, result, verbose: true);
        Assert.Empty(Directory.EnumerateFileSystemEntries(inputs.Out));
    }

    [Theory]
    [InlineData("train", "--epochs", "abc")]
    [InlineData("train", "--batch-size", "1.5")]
    [InlineData("train", "--seed", "-3")]
    [InlineData("predict", "--threads", "many")]
    [InlineData("evaluate", "--threads")]
    [InlineData("frobnicate")]
    [InlineData("train", "a.csv", "b.csv")]
    public void Parse_errors_exit_nonzero_with_a_message(params string[] args)
    {
        using var dir = new TempDir();
        string[] full = [.. args, "--model", dir.File("m.safetensors")];

        var result = CliHarness.Run(full);

        output.WriteLine(result.ToString());
        Assert.NotEqual(0, result.ExitCode);
        Assert.NotEqual(70, result.ExitCode);
        Assert.False(string.IsNullOrWhiteSpace(result.Err));
        Assert.DoesNotContain("   at ", result.Err);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    private void AssertUserError(Case c, CliResult result, bool verbose)
    {
        output.WriteLine(result.Err);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith("error: ", result.Err);
        string message = result.Err.Split('\n')[0];
        foreach (string part in c.Parts)
        {
            Assert.Contains(part, message);
        }
        if (c.Line > 0)
        {
            Assert.Contains($"line {c.Line}", message);
        }
        if (verbose)
        {
            Assert.Contains("   at ", result.Err);
        }
        else
        {
            Assert.DoesNotContain("   at ", result.Err);
            Assert.Equal(message.Length + Environment.NewLine.Length, result.Err.Length);
        }
    }

    private static Func<Inputs, string> Rows(Action<List<List<string>>> edit) => i => i.Text(CsvSamples.Labelled(3, seed: 1, edit));

    private static Func<Inputs, string> Pixel(string value) => Rows(r => r[1][301] = value);

    /// <summary>The text cut off in its last row just before the 405th field, as a copy that stopped mid-write.</summary>
    private static string CutInLastRow(string text)
    {
        int lastRow = text.LastIndexOf('\n', text.Length - 2) + 1;
        int at = lastRow;
        for (int commas = 0; commas < 404; at++)
        {
            commas += text[at] == ',' ? 1 : 0;
        }
        return text[..(at - 1)];
    }

    internal static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
