from dancer.cli import main

main()
