using System.CommandLine;
using Convnet.Models;
using Convnet.Saving;

namespace Convnet.Cli.Commands;

internal static class SummaryCommand
{
    public static Command Create()
    {
        var model = Options.Model("Model file to describe: one model, or an ensemble (its members and parameter counts, then member 0's layers).");
        var arch = new Option<string?>("--arch")
        {
            HelpName = "NAME|SPEC|FILE.json",
            Description = $"Describe an architecture instead of a model file, for 28×28×1 inputs and 10 classes. {Options.ArchHelp}",
        };
        var command = new Command("summary", "Print a model's layers, output shapes and parameter counts, as Keras's model.summary().")
        {
            model, arch,
        };
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string? name = parse.GetValue(arch);
            if (name is not null)
            {
                using var fresh = Options.CreateArch(name, Data.KaggleCsv.ImageShape, 10, seed: 0, threads: 1);
                output.Write(fresh.Summary());
                return 0;
            }
            string path = parse.GetValue(model)!;
            Cli.CheckExists(path, "model");
            var (net, metadata) = ModelFile.LoadClassifier(path, threads: 1);
            using (net)
            {
                output.Write(net.Summary());
                output.WriteLine(DescribeClasses(net.Classes, net.ClassNames));
                foreach (var key in new[] { "arch", "arch_spec", "epochs", "epochs_trained", "batch_size", "optimizer", "learning_rate", "lr_schedule", "seed", "train_file", "train_images", "train_seconds" })
                {
                    if (metadata.TryGetValue(key, out var value))
                    {
                        output.WriteLine($"{key}: {value}");
                    }
                }
                if (net is Ensemble ensemble)
                {
                    // One line per member: what it alone was trained with, e.g. "member1: seed 2, epochs_trained 8, train_seconds 84.5".
                    for (int k = 0; k < ensemble.Members.Count; k++)
                    {
                        var own = ModelFile.MemberMetadata(metadata, k);
                        var parts = new[] { "seed", "epochs_trained", "train_seconds" }.Where(own.ContainsKey).Select(key => $"{key} {own[key]}");
                        output.WriteLine($"member{k}: {string.Join(", ", parts)}");
                    }
                }
            }
            return 0;
        }));
        return command;
    }

    /// <summary>"Classes: 10 (T-shirt_top, Trouser, ...)": the names that fit about a line, then how many more; or "Classes: 10 (0-9)".</summary>
    internal static string DescribeClasses(int classes, IReadOnlyList<string>? classNames)
    {
        const int width = 100;
        if (classNames is not { } names)
        {
            return $"Classes: {classes} (0-{classes - 1})";
        }
        var shown = new System.Text.StringBuilder();
        int count = 0;
        foreach (string name in names)
        {
            if (count > 0 && shown.Length + name.Length > width)
            {
                break;
            }
            shown.Append(count > 0 ? ", " : "").Append(name);
            count++;
        }
        string rest = count < names.Count ? $", ... and {names.Count - count} more" : "";
        return $"Classes: {names.Count} ({shown}{rest})";
    }
}
