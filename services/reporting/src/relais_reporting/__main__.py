from relais_reporting.cli import main

main()
