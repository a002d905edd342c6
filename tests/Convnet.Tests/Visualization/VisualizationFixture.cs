using Convnet.Data;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary>
/// Trains one small model through the command line (2 epochs on synthetic digits, with --plot
/// and --history) and writes one evaluation report; the visualization tests share them.
/// </summary>
public sealed class VisualizationFixture : IDisposable
{
    private readonly TempDir _dir = new();

    public VisualizationFixture()
    {
        TrainCsv = _dir.File("train.csv");
        KaggleCsv.WriteLabelled(TrainCsv, SyntheticDigits.Create(300, seed: 11));

        // Evaluation data with every fifth label changed, so that there are mistakes to show.
        var eval = SyntheticDigits.Create(200, seed: 12);
        var wrongLabels = eval.Labels!.ToArray();
        for (int i = 0; i < wrongLabels.Length; i += 5)
        {
            wrongLabels[i] = (byte)((wrongLabels[i] + 1 + i / 5 % 3) % 10);
        }
        EvalData = new Dataset(eval.Pixels, wrongLabels, eval.SampleShape);
        EvalCsv = _dir.File("eval.csv");
        KaggleCsv.WriteLabelled(EvalCsv, EvalData);
        UnlabelledCsv = _dir.File("eval-unlabelled.csv");
        KaggleCsv.WriteUnlabelled(UnlabelledCsv, EvalData);
        LabelsCsv = _dir.File("eval-labels.csv");
        KaggleCsv.WriteLabels(LabelsCsv, wrongLabels);

        ModelPath = _dir.File("model.safetensors");
        CurvesPng = _dir.File("curves.png");
        HistoryCsv = _dir.File("history.csv");
        (int trainExit, TrainOutput, string trainError) = Run("train", TrainCsv, "--model", ModelPath, "--epochs", "2", "--batch-size", "32", "--seed", "3", "--plot", CurvesPng, "--history", HistoryCsv);
        Assert.True(trainExit == 0, $"train failed ({trainExit}): {trainError}");

        ReportDir = _dir.File("report");
        (int evalExit, EvaluateOutput, string evalError) = Run("evaluate", EvalCsv, "--model", ModelPath, "--report", ReportDir);
        Assert.True(evalExit == 0, $"evaluate failed ({evalExit}): {evalError}");
    }

    public string TrainCsv { get; }
    public Dataset EvalData { get; }
    public string EvalCsv { get; }
    public string UnlabelledCsv { get; }
    public string LabelsCsv { get; }
    public string ModelPath { get; }
    public string CurvesPng { get; }
    public string HistoryCsv { get; }
    public string TrainOutput { get; }
    public string ReportDir { get; }
    public string ReportIndex => Path.Combine(ReportDir, "index.html");
    public string EvaluateOutput { get; }

    public string File(string name) => _dir.File(name);

    public static (int Exit, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = global::Convnet.Cli.Cli.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    public void Dispose() => _dir.Dispose();
}

[CollectionDefinition(Name)]
public sealed class VisualizationCollection : ICollectionFixture<VisualizationFixture>
{
    public const string Name = "Visualization";
}
