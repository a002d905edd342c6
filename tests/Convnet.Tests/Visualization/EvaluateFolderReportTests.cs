using System.Text.RegularExpressions;
using Convnet.Cli.Visualization;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary><c>convnet evaluate DIR --model M --report R</c>: the report of an image folder names the classes and the files of its mistakes.</summary>
[Trait("Category", "Visualization")]
public sealed partial class EvaluateFolderReportTests
{
    [Fact]
    public void The_report_of_a_folder_names_classes_and_files()
    {
        using var dir = new TempDir();
        string folder = ColourFolder.Write(dir, "shapes", perClass: 5);
        string modelPath = dir.File("m.safetensors");
        using (var net = new Sequential(Shape.Image(24, 24, 3), seed: 4, threads: 1))
        {
            net.Add(new Flatten()).Add(new Dense(3)).Add(new Softmax());
            net.ClassNames = [.. ColourFolder.Classes.Reverse()];
            net.Save(modelPath);
        }
        string report = dir.File("report");

        var (exit, output, error) = VisualizationFixture.Run("evaluate", folder, "--model", modelPath, "--report", report);

        Assert.True(exit == 0, error);
        Assert.Contains("Wrote the report to", output);
        string html = File.ReadAllText(Path.Combine(report, HtmlReport.IndexFile));
        foreach (string name in ColourFolder.Classes)
        {
            Assert.Contains($"<td class=\"name\">{name}</td>", html);
        }
        Assert.Contains("<th>file</th>", html);
        Assert.Matches(FileCell(), html);
        Png.AssertPicture(Path.Combine(report, HtmlReport.ConfusionFile), ConfusionPlot.Size(3, [.. ColourFolder.Classes.Reverse()]));
        Png.AssertPicture(Path.Combine(report, HtmlReport.MistakesFile));
    }

    [GeneratedRegex("<td class=\"name\">(blue bar|green disc|red square)/\\d{3}\\.png</td>")]
    private static partial Regex FileCell();
}
